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
    ("wbf", .wbf(iouThreshold: 0.55)),
  ]

  struct Report: JSONReport {
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
    var kept: [String: Int] = [:]
    let medians = alternatingMedians(
      warmup: warmup, rounds: max(iterations, 20),
      Self.methods.map { name, method in
        { kept[name] = method.apply(boxes: candidates, scores: scores, groups: groups).indices.shape[0] }
      })
    let milliseconds = Dictionary(uniqueKeysWithValues: zip(Self.methods.map(\.0), medians))
    return Report(boxes: boxes, milliseconds: milliseconds, kept: kept)
  }
}
