import Foundation

/// The median milliseconds per call of each of `bodies`, over `rounds` timed rounds after
/// `warmup` untimed ones. The bodies alternate within each round, so that a noisy moment on a
/// shared machine hits all of them alike.
func alternatingMedians(warmup: Int, rounds: Int, _ bodies: [() -> Void]) -> [Double] {
  let clock = ContinuousClock()
  var samples = Array(repeating: [Double](), count: bodies.count)
  for round in 0..<(warmup + rounds) {
    for (k, body) in bodies.enumerated() {
      let start = clock.now
      body()
      let elapsed = clock.now - start
      if round >= warmup {
        samples[k].append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
      }
    }
  }
  return samples.map { $0.sorted()[$0.count / 2] }
}

/// A benchmark report printed as one JSON object with sorted keys (`--json`).
protocol JSONReport: Encodable {}

extension JSONReport {
  func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }
}
