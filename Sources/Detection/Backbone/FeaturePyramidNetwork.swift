import NN
import Torch

/// Extra pyramid levels computed after the top-down pathway.
public enum ExtraLevels: String, ConfigChoice, Sendable {
  case none
  /// One more level by subsampling the coarsest output (Faster/Mask R-CNN's "pool" level).
  case maxPool = "max_pool"
  /// P6 and P7 by strided 3×3 convolutions (RetinaNet, FCOS).
  case p6p7
}

/// The feature pyramid of Lin et al. (2017): lateral 1×1 convolutions, a top-down pathway with
/// nearest upsampling, and 3×3 output convolutions. Names follow torchvision's
/// `FeaturePyramidNetwork` (`inner_blocks.i.0`, `layer_blocks.i.0`, `extra_blocks.p6`).
public final class FeaturePyramidNetwork: Module {
  let innerBlocks: [Sequential]
  let layerBlocks: [Sequential]
  let extraBlocks: LastLevelP6P7?
  public let extra: ExtraLevels
  public let outputChannels: Int

  /// - Parameters:
  ///   - norm: a normalisation after each convolution (whose bias is then dropped), as
  ///     torchvision's `fasterrcnn_resnet50_fpn_v2` uses; nil for the original FPN.
  ///   - extraInput: where P6 starts from (`.p6p7` only).
  ///   - reluBeforeP7: whether P7 is computed from `relu(P6)` (torchvision) or from P6 itself.
  ///   - lateralNorm: whether the lateral 1×1 convolutions get `norm` too (false: mmdetection's
  ///     `no_norm_on_lateral`).
  ///   - extraNorm: whether P6 and P7 get `norm` after their convolutions (mmdetection's FPN with
  ///     a `norm_cfg`; torchvision's extra levels have none).
  public init(
    inputChannels: [Int], outputChannels: Int, extra: ExtraLevels, norm: NormKind? = nil,
    extraInput: ExtraLevelsInput = .p5, reluBeforeP7: Bool = true, lateralNorm: Bool = true, extraNorm: Bool = false,
    generator: Generator? = nil
  ) {
    func block(_ i: Int, _ o: Int, _ k: Int, norm: NormKind?) -> Sequential {
      let c = Conv2d(i, o, kernelSize: k, padding: k / 2, bias: norm == nil, generator: generator)
      Initializer.kaimingUniform(c.weight, nonlinearity: .leakyRelu(negativeSlope: 1), generator: generator)
      if let bias = c.bias { Initializer.constant(bias, 0) }
      return norm.map { Sequential(c, $0.make(o)) } ?? Sequential(c)
    }
    innerBlocks = inputChannels.map { block($0, outputChannels, 1, norm: lateralNorm ? norm : nil) }
    layerBlocks = inputChannels.map { _ in block(outputChannels, outputChannels, 3, norm: norm) }
    self.extra = extra
    self.outputChannels = outputChannels
    extraBlocks =
      extra == .p6p7
      ? LastLevelP6P7(
        inputChannels: extraInput == .p5 ? outputChannels : inputChannels[inputChannels.count - 1],
        outputChannels: outputChannels, usesP5: extraInput == .p5, reluBeforeP7: reluBeforeP7,
        norm: extraNorm ? norm : nil, generator: generator)
      : nil
    super.init()
  }

  /// Pyramid outputs, finest first, from backbone features, finest first.
  public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
    precondition(features.count == innerBlocks.count, "FPN built for \(innerBlocks.count) inputs, got \(features.count)")
    var lastInner = innerBlocks[features.count - 1](features[features.count - 1])
    var results = [layerBlocks[features.count - 1](lastInner)]
    for index in stride(from: features.count - 2, through: 0, by: -1) {
      let lateral = innerBlocks[index](features[index])
      let size = (lateral.shape[2], lateral.shape[3])
      lastInner = lateral + Functional.interpolate(lastInner, size: size, mode: .nearest)
      results.insert(layerBlocks[index](lastInner), at: 0)
    }
    switch extra {
    case .none:
      break
    case .maxPool:
      results.append(Functional.maxPool2d(results[results.count - 1], kernelSize: (1, 1), stride: (2, 2)))
    case .p6p7:
      results += extraBlocks!(p5: results[results.count - 1], c5: features[features.count - 1])
    }
    return results
  }
}

/// RetinaNet's extra levels: P6 = conv(P5 or C5, stride 2), P7 = conv(relu(P6), stride 2) (the
/// ReLU is torchvision's; mmdetection's RetinaNet has none), each optionally followed by a norm
/// (`p6_norm`, `p7_norm`; the convolutions then have no bias), as mmdetection's FPN with a
/// `norm_cfg` has.
public final class LastLevelP6P7: Module {
  let p6: Conv2d
  let p7: Conv2d
  let p6Norm: (any UnaryLayer)?
  let p7Norm: (any UnaryLayer)?
  let usesP5: Bool
  let reluBeforeP7: Bool

  init(
    inputChannels: Int, outputChannels: Int, usesP5: Bool, reluBeforeP7: Bool, norm: NormKind? = nil, generator: Generator?
  ) {
    p6 = Conv2d(inputChannels, outputChannels, kernelSize: 3, stride: 2, padding: 1, bias: norm == nil, generator: generator)
    p7 = Conv2d(outputChannels, outputChannels, kernelSize: 3, stride: 2, padding: 1, bias: norm == nil, generator: generator)
    for conv in [p6, p7] {
      Initializer.kaimingUniform(conv.weight, nonlinearity: .leakyRelu(negativeSlope: 1), generator: generator)
      if let bias = conv.bias { Initializer.constant(bias, 0) }
    }
    p6Norm = norm?.make(outputChannels)
    p7Norm = norm?.make(outputChannels)
    self.usesP5 = usesP5
    self.reluBeforeP7 = reluBeforeP7
    super.init()
  }

  func callAsFunction(p5: Tensor, c5: Tensor) -> [Tensor] {
    let input = usesP5 ? p5 : c5
    let six = p6Norm.map { normalized(p6, $0, input) } ?? p6(input)
    let p7Input = reluBeforeP7 ? six.relu() : six
    return [six, p7Norm.map { normalized(p7, $0, p7Input) } ?? p7(p7Input)]
  }
}
