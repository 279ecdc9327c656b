import NN
import Torch

/// Which normalisation a backbone uses.
public enum NormKind: String, ConfigChoice, Sendable {
  /// Fixed statistics and affine terms (torchvision's fine-tuning default for detectors).
  case frozenBatchNorm = "FrozenBN"
  /// Ordinary batch normalisation, trained.
  case batchNorm = "BN"
  /// Batch normalisation over the global batch of a distributed run (statistics and gradients
  /// all-reduced across the workers); in a single process it is `BN`. Accepted wherever `BN` is.
  case syncBatchNorm = "SyncBN"
  /// Group normalisation with 32 groups.
  case groupNorm = "GN"
  /// In-place activated batch norm (Rota Bulò et al. 2018): batch norm fused with the leaky ReLU
  /// that follows it, keeping only its output for backward. In a ResNet the blocks' activations
  /// become leaky ReLUs (`iabn_slope`); elsewhere it stands where a batch norm would, without the
  /// activation, and behaves as one (the memory saving is the backbone's).
  case inPlaceABN = "IABN"
  /// `IABN` over the global batch of a distributed run (statistics and their gradients
  /// all-reduced across the workers, as `SyncBN`); in a single process it is `IABN`.
  case syncInPlaceABN = "SyncIABN"

  /// The norm for `channels` channels; an in-place activated batch norm also applies the leaky
  /// ReLU of `slope` (nil: none).
  func make(_ channels: Int, slope: Double? = nil) -> any UnaryLayer {
    switch self {
    case .frozenBatchNorm: FrozenBatchNorm2d(channels)
    case .batchNorm: BatchNorm2d(channels)
    case .syncBatchNorm: SyncBatchNorm2d(channels)
    case .groupNorm: GroupNorm(groups: 32, channels: channels)
    case .inPlaceABN: InPlaceABN(features: channels, slope: slope)
    case .syncInPlaceABN: InPlaceABN(features: channels, slope: slope, group: SyncBatchNorm2d.processGroup)
    }
  }
}

/// `norm(conv(x))`, with a frozen batch norm folded into an ordinary convolution (see
/// `FrozenBatchNorm2d.folded(into:applyingTo:)`).
func normalized(_ conv: any UnaryLayer, _ norm: any UnaryLayer, _ x: Tensor) -> Tensor {
  if let frozen = norm as? FrozenBatchNorm2d, let conv = conv as? Conv2d { return frozen.folded(into: conv, applyingTo: x) }
  return norm(conv(x))
}

/// The activation after `norm`'s output `x`: none when the norm already applied it (an
/// in-place activated batch norm), otherwise ReLU in place.
func activated(_ x: Tensor, after norm: any UnaryLayer) -> Tensor {
  norm is InPlaceABN ? x : rectifiedInPlace(x)
}

/// `relu(x)`, overwriting `x`: for activations just produced and held by nobody else, as
/// torchvision's `ReLU(inplace=True)`. Neither a convolution's nor a norm's backward needs its
/// output, so autograd stays exact; skipping a fresh buffer per layer saves its allocation and
/// page faults.
func rectifiedInPlace(_ x: Tensor) -> Tensor {
  x.apply(.relu)
  return x
}

/// `relu(residual + shortcut)` accumulated into `residual` (a block's fresh last activation), or
/// into a new tensor when `residual` is an in-place activated batch norm's output, which that
/// norm keeps for its backward (the ReLU then overwrites that new sum).
func residualSum(_ residual: Tensor, shortcut: Tensor, after norm: any UnaryLayer) -> Tensor {
  if norm is InPlaceABN { return rectifiedInPlace(residual + shortcut) }
  residual += shortcut
  return rectifiedInPlace(residual)
}

/// A residual block's projection shortcut: a strided 1×1 convolution and its norm, named `0` and
/// `1` as torchvision's `Sequential`.
final class Downsample: Module, UnaryLayer {
  let conv: Conv2d
  let norm: any UnaryLayer

  init(_ conv: Conv2d, _ norm: any UnaryLayer) {
    self.conv = conv
    self.norm = norm
    super.init()
  }

  override var namedChildren: [(String, Module)] { [("0", conv), ("1", norm)] }

  func callAsFunction(_ x: Tensor) -> Tensor { normalized(conv, norm, x) }
}

/// A residual block's shape, shared by the two block kinds.
struct BlockSpec {
  var inputChannels: Int
  var width: Int
  var stride: Int
  var groups: Int
  var norm: NormKind
  /// The 3×3 convolution's kind (deformable in the stages `dcn_stages` names).
  var deformable: DeformableConvolutionVersion = .none
  /// Where a bottleneck strides (its 1×1 or its 3×3 convolution).
  var style: ResNetStyle = .pytorch
  /// The leaky ReLU slope of in-place activated batch norms.
  var slope = 0.01
  /// TridentNet's branches: the 3×3 convolution runs once per branch with that branch's dilation.
  var trident: TridentBranches?
  var generator: Generator?

  /// A block's 3×3 convolution: ordinary, deformable as `deformable` says, or a trident one.
  func threeByThree(_ input: Int, _ output: Int, stride: Int, groups: Int) -> any UnaryLayer {
    if let trident {
      return TridentConv(input, output, stride: stride, groups: groups, branches: trident, generator: generator)
    }
    switch deformable {
    case .none:
      return Conv2d(input, output, kernelSize: 3, stride: stride, padding: 1, groups: groups, bias: false, generator: generator)
    case .v1, .v2:
      return DeformableConv2d(
        input, output, kernelSize: 3, stride: stride, padding: 1, groups: groups, modulated: deformable == .v2,
        generator: generator)
    }
  }
}

/// ResNet's two-layer block (ResNet-18/34).
final class BasicBlock: Module, UnaryLayer {
  static let expansion = 1
  let conv1: Conv2d
  let bn1: any UnaryLayer
  let conv2: any UnaryLayer
  let bn2: any UnaryLayer
  let downsample: Downsample?

  init(_ spec: BlockSpec) {
    conv1 = Conv2d(spec.inputChannels, spec.width, kernelSize: 3, stride: spec.stride, padding: 1, bias: false, generator: spec.generator)
    bn1 = spec.norm.make(spec.width, slope: spec.slope)
    conv2 = spec.threeByThree(spec.width, spec.width, stride: 1, groups: 1)
    bn2 = spec.norm.make(spec.width)
    downsample = ResNet.downsample(spec, outputChannels: spec.width)
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let y = activated(normalized(conv1, bn1, x), after: bn1)
    return residualSum(normalized(conv2, bn2, y), shortcut: downsample?(x) ?? x, after: bn2)
  }
}

/// ResNet's bottleneck block (ResNet-50 and deeper), with the stride on the 3×3 convolution as
/// torchvision's ResNet v1.5, or on the first 1×1 convolution (`style: caffe`, the original
/// ResNet and its Caffe/Detectron weights).
final class Bottleneck: Module, UnaryLayer {
  static let expansion = 4
  let conv1: Conv2d
  let bn1: any UnaryLayer
  let conv2: any UnaryLayer
  let bn2: any UnaryLayer
  let conv3: Conv2d
  let bn3: any UnaryLayer
  let downsample: Downsample?

  init(_ spec: BlockSpec, baseWidth: Int) {
    let inner = spec.width * baseWidth / 64 * spec.groups
    let output = spec.width * Self.expansion
    let caffe = spec.style == .caffe
    conv1 = Conv2d(spec.inputChannels, inner, kernelSize: 1, stride: caffe ? spec.stride : 1, bias: false, generator: spec.generator)
    bn1 = spec.norm.make(inner, slope: spec.slope)
    conv2 = spec.threeByThree(inner, inner, stride: caffe ? 1 : spec.stride, groups: spec.groups)
    bn2 = spec.norm.make(inner, slope: spec.slope)
    conv3 = Conv2d(inner, output, kernelSize: 1, bias: false, generator: spec.generator)
    bn3 = spec.norm.make(output)
    downsample = ResNet.downsample(spec, outputChannels: output)
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    var y = activated(normalized(conv1, bn1, x), after: bn1)
    y = activated(normalized(conv2, bn2, y), after: bn2)
    return residualSum(normalized(conv3, bn3, y), shortcut: downsample?(x) ?? x, after: bn3)
  }
}

/// The ResNet (He et al. 2016) and ResNeXt (Xie et al. 2017) feature extractors, without the
/// classifier, returning the outputs of the four stages (strides 4, 8, 16, 32).
/// Parameter names match torchvision's `resnet*` models, so ImageNet weights load directly.
public final class ResNet: Module {
  public struct Configuration: Codable, Equatable, Sendable {
    /// 18, 34, 50, 101 or 152.
    public var depth: Int
    /// ResNeXt cardinality (1 for ResNet).
    public var groups: Int
    /// ResNeXt width per group (64 for ResNet).
    public var widthPerGroup: Int
    public var norm: NormKind
    /// Stages whose parameters are frozen, counted from the stem: 0 trains everything, 1 freezes
    /// the stem, 2 the stem and `layer1` (torchvision's default of three trainable stages), 5 all.
    public var frozenStages: Int
    /// Channels of the stem and of the first stage's blocks; each later stage doubles them. 64 in
    /// every torchvision ResNet (whose weights need it); smaller values give narrow ResNets that
    /// train fast on small problems.
    public var baseChannels: Int
    /// The stage outputs the backbone hands on, finest first. Stages after the last one named
    /// are not built (a C4 detector's stage 5 lives in its box head).
    public var outFeatures: [ResNetFeature]
    /// Deformable 3×3 convolutions in the blocks of `dcnStages` (mmdetection's `dcn` with
    /// `stage_with_dcn`); `none` keeps them ordinary.
    public var dcn: DeformableConvolutionVersion = .none
    /// The stages whose blocks get deformable convolutions (C4's stage 5 included, wherever it
    /// is built).
    public var dcnStages: [ResNetFeature] = [.c3, .c4, .c5]
    /// Where bottlenecks stride: `pytorch` (the 3×3 convolution, torchvision's weights) or
    /// `caffe` (the first 1×1 convolution, Caffe-trained weights such as mmdetection's
    /// `resnet50_caffe`). ResNet-18/34 blocks stride on their first 3×3 convolution either way.
    public var style: ResNetStyle = .pytorch
    /// Activation checkpointing in training: `stages` keeps only each stage's input and
    /// recomputes the stage in backward, `blocks` each block's; `none` keeps every activation.
    public var checkpoint: ActivationCheckpointing = .none
    /// The leaky ReLU slope of `norm: IABN` (InPlace-ABN's default 0.01).
    public var iabnSlope = 0.01

    public init(
      depth: Int = 50, groups: Int = 1, widthPerGroup: Int = 64, norm: NormKind = .frozenBatchNorm, frozenStages: Int = 2,
      baseChannels: Int = 64, outFeatures: [ResNetFeature] = ResNetFeature.allCases
    ) {
      self.depth = depth
      self.groups = groups
      self.widthPerGroup = widthPerGroup
      self.norm = norm
      self.frozenStages = frozenStages
      self.baseChannels = baseChannels
      self.outFeatures = outFeatures
    }

    var blocksPerStage: [Int] {
      switch depth {
      case 18: [2, 2, 2, 2]
      case 34, 50: [3, 4, 6, 3]
      case 101: [3, 4, 23, 3]
      case 152: [3, 8, 36, 3]
      default: preconditionFailure("ResNet depth must be 18, 34, 50, 101 or 152, got \(depth)")
      }
    }

    var usesBottleneck: Bool { depth >= 50 }

    var expansion: Int { usesBottleneck ? Bottleneck.expansion : BasicBlock.expansion }

    /// Output channels of stage `index` (0 for `layer1` ... 3 for `layer4`).
    func channels(ofStage index: Int) -> Int { (baseChannels << index) * expansion }

    /// Channels and stride of each of `outFeatures`.
    public var outputShapes: [FeatureMapShape] {
      outFeatures.map { FeatureMapShape(channels: channels(ofStage: $0.stageIndex), stride: $0.stride) }
    }

    /// The stages built: up to the last of `outFeatures`.
    var builtStages: Int { (outFeatures.map(\.stageIndex).max() ?? 3) + 1 }
  }

  public let configuration: Configuration
  let conv1: Conv2d
  let bn1: any UnaryLayer
  let layer1: Sequential
  let layer2: Sequential?
  let layer3: Sequential?
  let layer4: Sequential?

  /// Channels of the four stage outputs (built or not).
  public let stageChannels: [Int]

  /// TridentNet's branches in the last built stage (nil: an ordinary ResNet).
  public let trident: TridentBranches?

  /// - Parameter trident: run the last built stage as TridentNet's branches (the 3×3
  ///   convolutions shared across branches, each with its own dilation).
  public init(_ configuration: Configuration, trident: TridentBranches? = nil, generator: Generator? = nil) {
    self.configuration = configuration
    self.trident = trident
    let base = configuration.baseChannels
    conv1 = Conv2d(3, base, kernelSize: 7, stride: 2, padding: 3, bias: false, generator: generator)
    bn1 = configuration.norm.make(base, slope: configuration.iabnSlope)
    var stages: [Sequential] = []
    for index in 0..<configuration.builtStages {
      stages.append(
        ResNet.stage(
          index, configuration: configuration, inputChannels: index == 0 ? base : configuration.channels(ofStage: index - 1),
          firstStride: index == 0 ? 1 : 2, trident: index == configuration.builtStages - 1 ? trident : nil,
          generator: generator))
    }
    layer1 = stages[0]
    layer2 = stages.count > 1 ? stages[1] : nil
    layer3 = stages.count > 2 ? stages[2] : nil
    layer4 = stages.count > 3 ? stages[3] : nil
    stageChannels = (0..<4).map { configuration.channels(ofStage: $0) }
    super.init()
    ResNet.initialize(self, generator: generator)
    freeze(stages: configuration.frozenStages)
  }

  /// How many branches the last built stage runs now: TridentNet's branch count while
  /// training or when testing with every branch, 1 otherwise.
  public var branches: Int { trident?.active(training: isTraining).count ?? 1 }

  /// The outputs of the built stages, finest first (C2, C3, ...).
  /// The input is taken in channels-last layout, which every later convolution keeps: oneDNN's
  /// convolutions run about 15% faster on it than on NCHW (measured on this 2-core machine).
  /// With TridentNet's branches, the last output holds the branches one after another along the
  /// batch axis (`branches × N` images, branch-major).
  public func callAsFunction(_ x: Tensor) -> [Tensor] {
    var y = activated(normalized(conv1, bn1, x.channelsLast()), after: bn1)
    y = Functional.maxPool2d(y, kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
    let stages = [layer1] + [layer2, layer3, layer4].compactMap { $0 }
    let checkpoint = configuration.checkpoint
    var outputs: [Tensor] = []
    for (index, stage) in stages.enumerated() {
      var input = outputs.last ?? y
      // Every branch starts from the same input; the first block's 1×1 convolutions and
      // shortcut run once per branch, as TridentNet's blocks do.
      if index == stages.count - 1, branches > 1 { input = input.repeated([branches, 1, 1, 1]).channelsLast() }
      if checkpoint == .blocks {
        outputs.append(checkpointedLayers(true, stage, input))
      } else {
        outputs.append(checkpointedWhenTraining(checkpoint == .stages, stage, input, stage.callAsFunction))
      }
    }
    return outputs
  }

  /// Stage `index` (0 for `layer1` ... 3 for `layer4`) of a ResNet with `configuration`, its first
  /// block striding by `firstStride`; He-initialised like the whole network.
  static func stage(
    _ index: Int, configuration: Configuration, inputChannels: Int, firstStride: Int, trident: TridentBranches? = nil,
    generator: Generator?
  ) -> Sequential {
    let width = configuration.baseChannels << index
    var channels = inputChannels
    var layers: [any UnaryLayer] = []
    for b in 0..<configuration.blocksPerStage[index] {
      let deformable = configuration.dcnStages.contains { $0.stageIndex == index } ? configuration.dcn : .none
      let spec = BlockSpec(
        inputChannels: channels, width: width, stride: b == 0 ? firstStride : 1, groups: configuration.groups,
        norm: configuration.norm, deformable: deformable, style: configuration.style, slope: configuration.iabnSlope,
        trident: trident, generator: generator)
      layers.append(
        configuration.usesBottleneck ? Bottleneck(spec, baseWidth: configuration.widthPerGroup) : BasicBlock(spec))
      channels = width * configuration.expansion
    }
    return Sequential(layers)
  }

  private func freeze(stages count: Int) {
    let parts: [Module] = [conv1, bn1, layer1] + [layer2, layer3, layer4].compactMap { $0 }
    let frozen = count <= 0 ? [] : count == 1 ? [conv1, bn1] : Array(parts.prefix(count + 1))
    for part in frozen { part.setRequiresGrad(false) }
  }

  /// torchvision's ResNet initialisation: He-normal (fan-out) convolutions, unit norms; offset
  /// predictors of deformable convolutions stay zero.
  static func initialize(_ net: Module, generator: Generator?) {
    for (_, module) in net.namedModules() {
      if let conv = module as? Conv2d {
        Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      } else if let conv = module as? DeformableConv2d {
        Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      } else if let conv = module as? TridentConv {
        Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      }
    }
    for (_, module) in net.namedModules() { (module as? DeformableConv2d)?.zeroOffsets() }
  }

  static func downsample(_ spec: BlockSpec, outputChannels: Int) -> Downsample? {
    guard spec.stride != 1 || spec.inputChannels != outputChannels else { return nil }
    return Downsample(
      Conv2d(spec.inputChannels, outputChannels, kernelSize: 1, stride: spec.stride, bias: false, generator: spec.generator),
      spec.norm.make(outputChannels))
  }
}

/// What a network keeps for backward in training (Chen et al. 2016): every activation, or only
/// the inputs of each stage or block, recomputing the rest in backward.
public enum ActivationCheckpointing: String, ConfigChoice, Sendable {
  case none, stages, blocks
}

/// Where a ResNet's bottleneck blocks stride.
public enum ResNetStyle: String, ConfigChoice, Sendable {
  /// On the 3×3 convolution (torchvision's ResNet v1.5).
  case pytorch
  /// On the first 1×1 convolution (the original ResNet, Caffe-trained weights).
  case caffe
}

/// A ResNet stage output a backbone can hand on.
public enum ResNetFeature: String, ConfigChoice, Sendable {
  case c2, c3, c4, c5

  /// 0 for `layer1` (C2) ... 3 for `layer4` (C5).
  var stageIndex: Int { ResNetFeature.allCases.firstIndex(of: self)! }

  var stride: Int { 4 << stageIndex }
}
