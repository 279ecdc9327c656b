import Engine
import Foundation
import Torch

// What the command-line equality tests with torchvision and mmdetection share: the fixtures'
// weight rule, and the overlaps their detections are matched by.

/// A fixture's weights (tools/make_torchvision_cli_fixtures.py, tools/make_mmdet_fixtures.py):
/// each tensor `mean + std·√3·(2u − 1)` with `u` drawn in float64 by libtorch's CPU generator
/// seeded with the tensor's index (the same draws as Python's `torch.rand`), rounded to float32;
/// batch-norm statistics from the calibration file. Names are the reference's own.
func rebuiltWeights(_ preset: String, fixtures: URL) throws -> [String: Tensor] {
  struct Rule: Decodable {
    struct Entry: Decodable {
      var name: String
      var shape: [Int]
      var seed: UInt64
      var mean: Double
      var std: Double
    }
    var tensors: [Entry]
  }
  let rule = try JSONDecoder().decode(Rule.self, from: Data(contentsOf: fixtures.appendingPathComponent("\(preset).weights.json")))
  var weights = try SafeTensors.read(contentsOf: fixtures.appendingPathComponent("\(preset).bn.safetensors"))
  for entry in rule.tensors where weights[entry.name] == nil {
    let u = Tensor.rand(entry.shape, dtype: .float64, generator: Generator(seed: entry.seed))
    weights[entry.name] = ((2.0 * u - 1.0) * (entry.std * 3.0.squareRoot()) + entry.mean).to(.float32)
  }
  return weights
}

extension Prediction {
  /// `[x1, y1, x2, y2]`.
  var corners: [Double] { [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]] }
}

/// Intersection over union; for two boxes of no area (randomly initialised FCOS gives some), 1
/// when their corners agree to 0.01 pixels.
func boxIoU(_ a: [Double], _ b: [Double]) -> Double {
  let w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
  let h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
  let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
  guard union > 0 else { return zip(a, b).allSatisfy { abs($0 - $1) <= 0.01 } ? 1 : 0 }
  return w * h / union
}

/// Intersection over union of two row-major 0/1 bitmaps of the same size.
func bitmapIoU(_ a: [UInt8], _ b: [UInt8]) -> Double {
  guard a.count == b.count else { return 0 }
  var intersection = 0
  var union = 0
  for (x, y) in zip(a, b) {
    intersection += Int(x & y)
    union += Int(x | y)
  }
  return union == 0 ? 1 : Double(intersection) / Double(union)
}
