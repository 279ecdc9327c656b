import NN
import Torch

/// The norm after a BiFPN convolution: batch norm with EfficientDet's TensorFlow settings
/// (momentum 0.99, which is PyTorch's 0.01, and ε 1e-3), or another kind as configured.
private func bifpnNorm(_ kind: NormKind, _ channels: Int) -> any UnaryLayer {
  switch kind {
  case .batchNorm: BatchNorm2d(features: channels, epsilon: 1e-3, momentum: 0.01)
  case .syncBatchNorm: SyncBatchNorm2d(features: channels, epsilon: 1e-3, momentum: 0.01)
  default: kind.make(channels)
  }
}

/// A depthwise 3×3 convolution, a pointwise 1×1 convolution and a norm: BiFPN's cheap
/// replacement for a full 3×3 convolution (Chollet 2017's separable convolution).
final class SeparableConvNorm: Module, UnaryLayer {
  let depthwise: Conv2d
  let pointwise: Conv2d
  let norm: (any UnaryLayer)?

  init(channels: Int, norm: NormKind?, generator: Generator?) {
    depthwise = Conv2d(channels, channels, kernelSize: 3, padding: 1, groups: channels, bias: false, generator: generator)
    pointwise = Conv2d(channels, channels, kernelSize: 1, bias: norm == nil, generator: generator)
    self.norm = norm.map { bifpnNorm($0, channels) }
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let y = depthwise(x)
    guard let norm else { return pointwise(y) }
    return normalized(pointwise, norm, y)
  }
}

/// A 1×1 convolution and a norm that bring a backbone map to the BiFPN's channels.
final class ChannelProjection: Module, UnaryLayer {
  let conv: Conv2d
  let norm: (any UnaryLayer)?

  init(_ input: Int, _ output: Int, norm: NormKind?, generator: Generator?) {
    conv = Conv2d(input, output, kernelSize: 1, bias: norm == nil, generator: generator)
    self.norm = norm.map { bifpnNorm($0, output) }
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    guard let norm else { return conv(x) }
    return normalized(conv, norm, x)
  }
}

/// One BiFPN node: fast normalised fusion of its inputs (already at its size), Swish, then a
/// separable convolution with its norm. Fast normalised fusion weighs input i by
/// `relu(wᵢ) / (Σ relu(wⱼ) + ε)`: learned, non-negative, and without softmax's cost.
final class FusionNode: Module {
  /// One learned weight per input, starting at 1.
  @Parameter var weight: Tensor
  let conv: SeparableConvNorm
  let epsilon: Double

  init(inputs: Int, channels: Int, norm: NormKind?, epsilon: Double, generator: Generator?) {
    _weight = Parameter(Tensor.ones([inputs]))
    conv = SeparableConvNorm(channels: channels, norm: norm, generator: generator)
    self.epsilon = epsilon
    super.init()
  }

  func callAsFunction(_ inputs: [Tensor]) -> Tensor {
    let w = weight.relu()
    let normalizedWeights = w / (w.sum() + epsilon)
    var fused = inputs[0] * normalizedWeights[0]
    for (i, x) in inputs.enumerated().dropFirst() { fused = fused + x * normalizedWeights[i] }
    return conv(fused.silu())
  }
}

/// One bidirectional layer over P3–P7: a top-down pass (P6 to P3, each node fusing its level's
/// input with the upsampled node above) and a bottom-up pass (P4 to P7, each fusing its level's
/// input, the top-down node of that level and the max-pooled node below). The first layer also
/// projects the backbone's P3–P5 to the BiFPN's width, with separate projections for the
/// bottom-up pass's inputs of P4 and P5, as EfficientDet's first layer has.
final class BiFPNLayer: Module {
  /// First layer only: P3, P4, P5 to the top-down pass.
  let lateral: [ChannelProjection]
  /// First layer only: P4, P5 to the bottom-up pass.
  let skip: [ChannelProjection]
  /// The nodes at P6, P5, P4, P3.
  let topDown: [FusionNode]
  /// The nodes at P4, P5, P6, P7.
  let bottomUp: [FusionNode]

  init(inputChannels: [Int]?, channels: Int, norm: NormKind?, epsilon: Double, generator: Generator?) {
    lateral = inputChannels.map { $0.map { ChannelProjection($0, channels, norm: norm, generator: generator) } } ?? []
    skip = inputChannels.map { $0.dropFirst().map { ChannelProjection($0, channels, norm: norm, generator: generator) } } ?? []
    func node(_ inputs: Int) -> FusionNode {
      FusionNode(inputs: inputs, channels: channels, norm: norm, epsilon: epsilon, generator: generator)
    }
    topDown = (0..<4).map { _ in node(2) }
    bottomUp = (0..<4).map { node($0 == 3 ? 2 : 3) }
    super.init()
  }

  /// P3–P7 in, P3–P7 out; in the first layer P3–P5 are the backbone's maps.
  func callAsFunction(_ levels: [Tensor]) -> [Tensor] {
    let topDownInputs = lateral.isEmpty ? levels : zip(lateral, levels).map { $0($1) } + levels[3...]
    let bottomUpInputs = skip.isEmpty ? levels : [topDownInputs[0]] + zip(skip, levels[1...]).map { $0($1) } + levels[3...]
    // Top-down: from P7 (no node) to P3.
    var above = topDownInputs[4]
    var intermediate: [Tensor] = Array(repeating: above, count: 5)
    for (step, level) in (0...3).reversed().enumerated() {
      above = topDown[step]([topDownInputs[level], Self.upsampled(above, like: topDownInputs[level])])
      intermediate[level] = above
    }
    // Bottom-up: P3's output is the last top-down node; P4–P6 also read their top-down node.
    var outputs = [intermediate[0]]
    for level in 1...4 {
      let below = Self.downsampled(outputs[level - 1], like: bottomUpInputs[level])
      let inputs = level == 4 ? [bottomUpInputs[4], below] : [bottomUpInputs[level], intermediate[level], below]
      outputs.append(bottomUp[level - 1](inputs))
    }
    return outputs
  }

  static func upsampled(_ x: Tensor, like target: Tensor) -> Tensor {
    Functional.interpolate(x, size: (target.shape[2], target.shape[3]), mode: .nearest)
  }

  /// 3×3 max pooling with stride 2 (EfficientDet's downsampling), brought to the target's size
  /// should an odd size round differently.
  static func downsampled(_ x: Tensor, like target: Tensor) -> Tensor {
    let pooled = Functional.maxPool2d(x, kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
    let size = (target.shape[2], target.shape[3])
    return (pooled.shape[2], pooled.shape[3]) == size ? pooled : Functional.interpolate(pooled, size: size, mode: .nearest)
  }
}

/// BiFPN (Tan et al. 2020, EfficientDet): three backbone maps (C3–C5) to five levels (P3–P7)
/// through stacked bidirectional layers with fast normalised fusion. P6 is C5 projected to the
/// BiFPN's width and max-pooled; P7 is P6 max-pooled.
public final class BiFPN: Module, Neck {
  let p6Projection: ChannelProjection
  let layers: [BiFPNLayer]

  public init(inputChannels: [Int], configuration: BiFPNConfiguration, generator: Generator? = nil) {
    let c = configuration
    p6Projection = ChannelProjection(inputChannels[inputChannels.count - 1], c.channels, norm: c.norm, generator: generator)
    layers = (0..<c.repeats).map { index in
      BiFPNLayer(
        inputChannels: index == 0 ? inputChannels : nil, channels: c.channels, norm: c.norm, epsilon: c.fusionEpsilon,
        generator: generator)
    }
    super.init()
    // EfficientDet's initialisation of the convolutions (variance scaling, fan-in); zero biases.
    for (_, module) in namedModules() {
      guard let conv = module as? Conv2d else { continue }
      Initializer.kaimingUniform(conv.weight, nonlinearity: .leakyRelu(negativeSlope: 1), generator: generator)
      if let bias = conv.bias { Initializer.constant(bias, 0) }
    }
  }

  /// P3–P7, finest first, from C3–C5.
  public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
    precondition(features.count == 3, "BiFPN reads three backbone maps, got \(features.count)")
    let p6 = Functional.maxPool2d(p6Projection(features[2]), kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
    let p7 = Functional.maxPool2d(p6, kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
    return layers.reduce(features + [p6, p7]) { $1($0) }
  }
}
