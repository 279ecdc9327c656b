import NN
import Torch

/// Squeeze-and-excitation (Hu et al. 2018) as torchvision's `SqueezeExcitation`: the channels
/// are rescaled by `sigmoid(fc2(silu(fc1(mean over the map))))`, so that a block can weigh its
/// channels by what the whole image holds. `fc1` and `fc2` are 1×1 convolutions with biases.
final class SqueezeExcitation: Module, UnaryLayer {
  let fc1: Conv2d
  let fc2: Conv2d

  init(channels: Int, squeezed: Int, generator: Generator?) {
    fc1 = Conv2d(channels, squeezed, kernelSize: 1, generator: generator)
    fc2 = Conv2d(squeezed, channels, kernelSize: 1, generator: generator)
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let pooled = x.mean(axes: [2, 3], keepingDimensions: true)
    let scale = fc2(fc1(pooled).silu()).sigmoid()
    return x * scale
  }
}
