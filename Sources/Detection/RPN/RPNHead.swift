import NN
import Torch

/// The RPN's shared head: a 3×3 convolution and ReLU, then per-anchor objectness logits and box
/// offsets at every location of every level (torchvision's `RPNHead`, names included).
public final class RPNHead: Module {
  let conv: Sequential
  let clsLogits: Conv2d
  let bboxPred: Conv2d

  /// - Parameter convDepth: 3×3 convolutions before the predictors (1 in the original, 2 in
  ///   torchvision's v2 models).
  public init(channels: Int, anchorsPerLocation: Int, convDepth: Int = 1, generator: Generator? = nil) {
    let convs = (0..<convDepth).map { _ in Conv2d(channels, channels, kernelSize: 3, padding: 1, generator: generator) }
    conv = Sequential(convs.map { Sequential($0, Activation.relu()) })
    clsLogits = Conv2d(channels, anchorsPerLocation, kernelSize: 1, generator: generator)
    bboxPred = Conv2d(channels, anchorsPerLocation * 4, kernelSize: 1, generator: generator)
    for layer in convs + [clsLogits, bboxPred] {
      Initializer.normal(layer.weight, std: 0.01, generator: generator)
      Initializer.constant(layer.bias!, 0)
    }
    super.init()
  }

  /// Per level: objectness `[N, A, H, W]` and offsets `[N, 4A, H, W]`.
  public func callAsFunction(_ features: [Tensor]) -> [(objectness: Tensor, offsets: Tensor)] {
    features.map { feature in
      let t = conv(feature)
      return (clsLogits(t), bboxPred(t))
    }
  }
}

/// Flattens per-level head outputs `[N, A·C, H, W]` into `[N, Σ H·W·A, C]`, in the anchor order
/// of `AnchorGenerator` (location-major, then anchor).
func flattenPredictions(_ levels: [Tensor], channels c: Int) -> Tensor {
  let flat = levels.map { level -> Tensor in
    let s = level.shape
    let n = s[0], a = s[1] / c, h = s[2], w = s[3]
    return level.viewed(as: [n, a, c, h, w]).permuted(0, 3, 4, 1, 2).reshaped([n, -1, c])
  }
  return Tensor.concatenate(flat, axis: 1)
}
