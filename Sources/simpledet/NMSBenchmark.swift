import Detection
import Foundation
import Torch

/// Times each NMS method on the same boxes: clusters of 20 jittered boxes around random centres,
/// as a detector's candidates of one class look, with random scores.
struct NMSBenchmark {
  let boxes: Int
  let iterations: Int
  let warmup: Int

  static let methods: [(String, NMSMethod)] = [
    ("standard", .standard(iouThreshold: 0.5)),
    ("soft-linear", .soft(.linear(iouThreshold: 0.3), minScore: 0.001)),
    ("soft-gaussian", .soft(.gaussian(sigma: 0.5), minScore: 0.001)),
    ("weighted", .weighted(iouThreshold: 0.5, votingThreshold: 0.8)),
  ]

  struct Report: Encodable {
    var boxes: Int
    /// Median milliseconds per call, and boxes kept, by method.
    var milliseconds: [String: Double]
    var kept: [String: Int]

    var table: String {
      var lines = ["NMS over \(boxes) boxes of one class (median ms per call, boxes kept)"]
      for (name, _) in NMSBenchmark.methods {
        let ms = milliseconds[name] ?? .nan
        lines.append(
          "  \(name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(String(format: "%8.3f", ms)) ms  \(kept[name] ?? 0) kept")
      }
      return lines.joined(separator: "\n")
    }

    func json() throws -> String {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
  }

  func run() -> Report {
    let g = Generator(seed: 7)
    let clusters = (boxes + 19) / 20
    let centres = (Tensor.rand([clusters, 1, 2], generator: g) * 1000).expanded(to: [clusters, 20, 2]).reshaped([-1, 2])
    let sizes = (Tensor.rand([clusters, 1, 2], generator: g) * 200 + 20).expanded(to: [clusters, 20, 2]).reshaped([-1, 2])
    let jitter = (Tensor.rand([clusters * 20, 4], generator: g) - 0.5) * 20
    let corners = Tensor.concatenate([centres - sizes / 2, centres + sizes / 2], axis: 1) + jitter
    let candidates = corners[..<boxes].contiguous()
    let scores = Tensor.rand([boxes], generator: g)
    let groups = Tensor.zeros([boxes], dtype: .int64)
    var milliseconds: [String: Double] = [:]
    var kept: [String: Int] = [:]
    let clock = ContinuousClock()
    // Methods alternate within each round, so a noisy moment hits all of them alike.
    var samples: [String: [Double]] = [:]
    for round in 0..<(warmup + max(iterations, 20)) {
      for (name, method) in Self.methods {
        let start = clock.now
        let result = method.apply(boxes: candidates, scores: scores, groups: groups)
        let elapsed = clock.now - start
        kept[name] = result.indices.shape[0]
        if round >= warmup {
          samples[name, default: []].append(
            Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
        }
      }
    }
    for (name, values) in samples { milliseconds[name] = values.sorted()[values.count / 2] }
    return Report(boxes: boxes, milliseconds: milliseconds, kept: kept)
  }
}
