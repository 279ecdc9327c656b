import NN
import Torch

/// The shape of one MBConv block, after the width and depth multipliers.
struct MBConvSpec: Equatable {
  var inputChannels: Int
  var outputChannels: Int
  var expandRatio: Int
  var kernelSize: Int
  var stride: Int
  /// The chance that training drops the block's residual branch.
  var stochasticDepth: Double

  /// The depthwise convolution's channels (torchvision's `adjust_channels(input, expand_ratio)`).
  var expandedChannels: Int { EfficientNetConfiguration.divisibleByEight(Double(inputChannels * expandRatio)) }

  /// Squeeze-and-excitation's inner width: a quarter of the block's input channels.
  var squeezedChannels: Int { Swift.max(1, inputChannels / 4) }

  /// Whether the block adds its input to its output (same shape in and out).
  var isResidual: Bool { stride == 1 && inputChannels == outputChannels }
}

/// The mobile inverted bottleneck of MobileNetV2 with squeeze-and-excitation, as EfficientNet
/// (Tan and Le 2019) uses it and torchvision's `MBConv` names it: `block` holds an optional 1×1
/// expansion, the depthwise convolution, squeeze-and-excitation and a 1×1 projection without
/// activation; when input and output have one shape the input is added back, the residual branch
/// dropped at random in training (stochastic depth).
final class MBConv: Module, UnaryLayer {
  let block: Sequential
  let spec: MBConvSpec
  /// Draws stochastic depth's choices (the detector's training generator).
  let generator: Generator?

  init(_ spec: MBConvSpec, padding: ConvolutionPadding, norm: (Int) -> any UnaryLayer, generator: Generator?) {
    let expanded = spec.expandedChannels
    var layers: [any UnaryLayer] = []
    if expanded != spec.inputChannels {
      layers.append(
        ConvNormActivation(
          spec.inputChannels, expanded, kernelSize: 1, padding: padding, norm: norm(expanded), activates: true,
          generator: generator))
    }
    layers.append(
      ConvNormActivation(
        expanded, expanded, kernelSize: spec.kernelSize, stride: spec.stride, groups: expanded, padding: padding,
        norm: norm(expanded), activates: true, generator: generator))
    layers.append(SqueezeExcitation(channels: expanded, squeezed: spec.squeezedChannels, generator: generator))
    layers.append(
      ConvNormActivation(
        expanded, spec.outputChannels, kernelSize: 1, padding: padding, norm: norm(spec.outputChannels), activates: false,
        generator: generator))
    block = Sequential(layers)
    self.spec = spec
    self.generator = generator
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let y = block(x)
    guard spec.isResidual else { return y }
    return stochasticDepth(y, probability: spec.stochasticDepth, training: isTraining, generator: generator) + x
  }
}
