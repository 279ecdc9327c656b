import NN
import Torch

/// How a convolution of an EfficientNet pads its input.
public enum ConvolutionPadding: String, ConfigChoice, Sendable {
  /// `(kernel − 1) / 2` pixels on every side (torchvision's `Conv2dNormActivation`).
  case symmetric
  /// TensorFlow's `SAME`: the output has `ceil(input / stride)` cells, and the padding that takes
  /// is split with the extra pixel at the bottom and right. The original EfficientNet weights were
  /// trained this way, and mmdetection's EfficientNet keeps it (`Conv2dAdaptivePadding`).
  case same
}

/// A convolution, its norm and an optional SiLU, named `0` and `1` as torchvision's
/// `Conv2dNormActivation` (the activation has no parameters, so it has no name).
final class ConvNormActivation: Module, UnaryLayer {
  let conv: Conv2d
  let norm: any UnaryLayer
  let activates: Bool
  let padding: ConvolutionPadding

  init(
    _ input: Int, _ output: Int, kernelSize: Int, stride: Int = 1, groups: Int = 1, padding: ConvolutionPadding,
    norm: any UnaryLayer, activates: Bool, generator: Generator?
  ) {
    conv = Conv2d(
      input, output, kernelSize: kernelSize, stride: stride, padding: padding == .symmetric ? (kernelSize - 1) / 2 : 0,
      groups: groups, bias: false, generator: generator)
    self.norm = norm
    self.activates = activates
    self.padding = padding
    super.init()
  }

  override var namedChildren: [(String, Module)] { [("0", conv), ("1", norm)] }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let y = normalized(conv, norm, padding == .same ? samePadded(x) : x)
    return activates ? siluReusingWhenPossible(y) : y
  }

  /// `x` padded as TensorFlow's `SAME` convolution (mmcv's `Conv2dAdaptivePadding`).
  private func samePadded(_ x: Tensor) -> Tensor {
    func total(_ size: Int, stride: Int, kernel: Int) -> Int {
      Swift.max(((size + stride - 1) / stride - 1) * stride + kernel - size, 0)
    }
    let (kh, kw) = (conv.weight.shape[2], conv.weight.shape[3])
    let h = total(x.shape[2], stride: conv.stride.0, kernel: kh)
    let w = total(x.shape[3], stride: conv.stride.1, kernel: kw)
    guard h > 0 || w > 0 else { return x }
    return x.padded([w / 2, w - w / 2, h / 2, h - h / 2])
  }
}

/// `silu(x)`, overwriting `x` when no gradient is recorded: SiLU's backward needs its input, so in
/// training the activation is a fresh tensor, while inference saves the allocation. `x` must be
/// an activation just produced and held by nobody else.
func siluReusingWhenPossible(_ x: Tensor) -> Tensor {
  guard !isGradEnabled else { return x.silu() }
  x.apply(.silu)
  return x
}
