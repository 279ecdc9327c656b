import CTorch
import Foundation

/// Where the time went while a closure ran, per libtorch operator, from libtorch's CPU profiler:
/// what `simpledet benchmark --profile` prints. Self time excludes the operators an operator
/// called (`aten::conv2d` → `aten::convolution` → `aten::mkldnn_convolution`), so the self times
/// add up to the time spent inside libtorch.
public struct OperatorProfile: Sendable {
  public struct Entry: Sendable, Equatable {
    public let name: String
    public let calls: Int
    /// Seconds inside this operator, less the operators it called.
    public let selfSeconds: Double
    /// Seconds inside this operator, including the operators it called.
    public let totalSeconds: Double
  }

  /// One entry per operator name, the largest self time first.
  public let entries: [Entry]

  /// Runs `body` with the profiler on and reads back the per-operator times. The Chrome trace
  /// (open it in chrome://tracing or Perfetto) stays at `tracePath`.
  public static func record<R>(tracePath: String, _ body: () throws -> R) throws -> (R, OperatorProfile) {
    try checkThrowing("OperatorProfile.record", ct_profiler_begin())
    let result: R
    do {
      result = try body()
    } catch {
      _ = ct_profiler_end(tracePath)
      throw error
    }
    try checkThrowing("OperatorProfile.record", ct_profiler_end(tracePath))
    return (result, try OperatorProfile(chromeTrace: Data(contentsOf: URL(fileURLWithPath: tracePath))))
  }

  /// Reads a Chrome trace of complete (`"ph": "X"`) events, nesting them per thread by time.
  public init(chromeTrace: Data) throws {
    guard let events = try JSONSerialization.jsonObject(with: chromeTrace) as? [[String: Any]] else {
      throw TorchError(operation: "OperatorProfile", message: "the profiler's trace is not a list of events")
    }
    struct Span {
      let name: String
      let start: Double
      let end: Double
    }
    var threads: [String: [Span]] = [:]
    for event in events where (event["ph"] as? String) == "X" {
      guard let name = event["name"] as? String, let start = Self.number(event["ts"]),
        let duration = Self.number(event["dur"])
      else { continue }
      threads["\(event["tid"] ?? "")", default: []].append(Span(name: name, start: start, end: start + duration))
    }
    var calls: [String: Int] = [:]
    var selfTime: [String: Double] = [:]
    var totalTime: [String: Double] = [:]
    for spans in threads.values {
      // Outer spans first when two start together, so children land inside their parent.
      let ordered = spans.sorted { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }
      var open: [(span: Span, childTime: Double)] = []
      func close(_ item: (span: Span, childTime: Double)) {
        let duration = item.span.end - item.span.start
        calls[item.span.name, default: 0] += 1
        totalTime[item.span.name, default: 0] += duration
        selfTime[item.span.name, default: 0] += max(0, duration - item.childTime)
        if !open.isEmpty { open[open.count - 1].childTime += duration }
      }
      for span in ordered {
        while let last = open.last, last.span.end <= span.start {
          open.removeLast()
          close(last)
        }
        open.append((span, 0))
      }
      while let last = open.popLast() { close(last) }
    }
    // Trace times are microseconds.
    entries = calls.keys.map {
      Entry(name: $0, calls: calls[$0]!, selfSeconds: selfTime[$0]! / 1e6, totalSeconds: totalTime[$0]! / 1e6)
    }
    .sorted { $0.selfSeconds != $1.selfSeconds ? $0.selfSeconds > $1.selfSeconds : $0.name < $1.name }
  }

  private static func number(_ value: Any?) -> Double? {
    if let n = value as? NSNumber { return n.doubleValue }
    if let s = value as? String { return Double(s) }
    return nil
  }
}
