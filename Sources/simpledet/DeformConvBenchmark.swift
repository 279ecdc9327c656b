import Detection
import Foundation
import Torch

/// Times a modulated deformable convolution's forward and backward against a plain 3×3
/// convolution of the same shape, at ResNet-50's C4 and C5 block shapes for a given input size:
/// 256 channels at 1/16 and 512 at 1/32, channels-last as the backbone holds them, offsets of
/// a few pixels.
struct DeformConvBenchmark {
  let size: Int
  let batch: Int
  let iterations: Int
  let warmup: Int

  struct Row: Encodable {
    var stage: String
    var shape: [Int]
    /// Median milliseconds per forward + backward.
    var deformable: Double
    var convolution: Double
  }

  struct Report: JSONReport {
    var rows: [Row]

    var table: String {
      var lines = ["Deformable (v2) vs plain 3×3 convolution, forward + backward (median ms)"]
      for r in rows {
        lines.append(
          "  \(r.stage) \(r.shape)  deformable \(String(format: "%8.2f", r.deformable)) ms  "
            + "convolution \(String(format: "%8.2f", r.convolution)) ms  ratio \(String(format: "%.2f", r.deformable / r.convolution))"
        )
      }
      return lines.joined(separator: "\n")
    }
  }

  func run() -> Report {
    let g = Generator(seed: 5)
    let stages = [("C4", 256, size / 16), ("C5", 512, size / 32)]
    let rows = stages.map { name, channels, side -> Row in
      let x = Tensor.rand([batch, channels, side, side], generator: g).channelsLast().requiringGrad()
      let weight = ((Tensor.rand([channels, channels, 3, 3], generator: g) - 0.5) * 0.05).requiringGrad()
      let offset = ((Tensor.rand([batch, 18, side, side], generator: g) - 0.5) * 4).requiringGrad()
      let mask = Tensor.rand([batch, 9, side, side], generator: g).requiringGrad()
      let deformable = {
        deformableConvolution2D(x, offset: offset, mask: mask, weight: weight, padding: (1, 1)).sum().backward()
      }
      let convolution = { Functional.conv2d(x, weight: weight, padding: (1, 1)).sum().backward() }
      let median = alternatingMedians(warmup: warmup, rounds: iterations, [deformable, convolution])
      return Row(stage: name, shape: [batch, channels, side, side], deformable: median[0], convolution: median[1])
    }
    return Report(rows: rows)
  }
}
