import NN
import Torch

/// Darknet-53 (Redmon and Farhadi 2018), YOLOv3's backbone, as mmdetection's `Darknet`: a 3×3
/// stem (`conv1`) and five stages (`conv_res_block1` … `conv_res_block5`), each a strided 3×3
/// convolution (`conv`) and residual blocks (`res0`, `res1`, …) of a 1×1 and a 3×3 convolution,
/// every convolution followed by a norm and a leaky ReLU. The names are mmdetection's, so its
/// checkpoints load under `backbone.body.` unchanged.
public final class Darknet: Module {
  /// The backbone's settings (the `darknet` backbone kind). The defaults are mmdetection's
  /// `Darknet(depth=53, out_indices=(3, 4, 5))`.
  public struct Configuration: Codable, Equatable, Sendable {
    /// 53, the only depth mmdetection defines: 1, 2, 8, 8 and 4 residual blocks per stage.
    public var depth = 53
    /// Channels of the stem; stage i (1 to 5) has `base_channels · 2^i`. 32 in Darknet-53 (its
    /// weights need it); smaller values give narrow networks that train fast on small problems.
    public var baseChannels = 32
    /// The outputs handed on, as mmdetection's `out_indices`: 0 the stem, 1 to 5 the stages
    /// (stride 2^i), in increasing order.
    public var outIndices = [3, 4, 5]
    /// Normalisation after each convolution. mmdetection trains Darknet-53's batch-norm affine
    /// terms with the ImageNet statistics kept (`norm_eval=True`); `BN` trains both, `FrozenBN`
    /// neither.
    public var norm = NormKind.batchNorm
    /// The leading parts (stem, then stages) whose parameters are frozen: 0 trains everything.
    public var frozenStages = 0

    public init() {}

    /// Residual blocks per stage, nil for a depth mmdetection does not define.
    var blocksPerStage: [Int]? { depth == 53 ? [1, 2, 8, 8, 4] : nil }

    /// Output channels of part `index` (0 the stem, 1 to 5 the stages).
    func channels(ofPart index: Int) -> Int { baseChannels << index }

    /// Channels and stride of each of `outIndices`.
    public var outputShapes: [FeatureMapShape] {
      outIndices.map { FeatureMapShape(channels: channels(ofPart: $0), stride: 1 << $0) }
    }
  }

  /// One stage: a strided 3×3 convolution, then residual blocks, named as mmdetection's
  /// `nn.Sequential` of `conv`, `res0`, `res1`, ….
  final class Stage: Module, UnaryLayer {
    let conv: DarknetConv
    let blocks: [ResidualBlock]

    init(input: Int, output: Int, blocks count: Int, norm: NormKind, generator: Generator?) {
      conv = DarknetConv(input, output, kernelSize: 3, stride: 2, norm: norm, generator: generator)
      blocks = (0..<count).map { _ in ResidualBlock(channels: output, norm: norm, generator: generator) }
      super.init()
    }

    override var namedChildren: [(String, Module)] {
      [("conv", conv)] + blocks.enumerated().map { ("res\($0)", $1) }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
      blocks.reduce(conv(x)) { $1($0) }
    }
  }

  /// A 1×1 convolution to half the channels, a 3×3 back, and the input added (mmdetection's
  /// `ResBlock`; no activation after the sum).
  final class ResidualBlock: Module, UnaryLayer {
    let conv1: DarknetConv
    let conv2: DarknetConv

    init(channels: Int, norm: NormKind, generator: Generator?) {
      conv1 = DarknetConv(channels, channels / 2, kernelSize: 1, norm: norm, generator: generator)
      conv2 = DarknetConv(channels / 2, channels, kernelSize: 3, norm: norm, generator: generator)
      super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv2(conv1(x)) + x }
  }

  public let configuration: Configuration
  let conv1: DarknetConv
  let stages: [Stage]

  /// - Precondition: a depth `Configuration` defines (a loaded config was checked).
  public init(_ configuration: Configuration, generator: Generator? = nil) {
    guard let blocks = configuration.blocksPerStage else {
      preconditionFailure("Darknet depth must be 53, got \(configuration.depth)")
    }
    self.configuration = configuration
    conv1 = DarknetConv(3, configuration.baseChannels, kernelSize: 3, norm: configuration.norm, generator: generator)
    stages = blocks.enumerated().map { i, count in
      Stage(
        input: configuration.channels(ofPart: i), output: configuration.channels(ofPart: i + 1), blocks: count,
        norm: configuration.norm, generator: generator)
    }
    super.init()
    // mmdetection's `init_cfg`: Kaiming-normal convolutions (fan-out, ReLU gain), unit norms.
    for (_, module) in namedModules() {
      if let conv = module as? Conv2d {
        Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      }
    }
    let parts: [Module] = [conv1] + stages
    for part in parts.prefix(configuration.frozenStages) { part.setRequiresGrad(false) }
  }

  override public var namedChildren: [(String, Module)] {
    [("conv1", conv1)] + stages.enumerated().map { ("conv_res_block\($0 + 1)", $1) }
  }

  /// The outputs of `outIndices`, finest first. The input is taken channels-last, which every
  /// later convolution keeps (oneDNN's convolutions are faster on it, as for the ResNet).
  public func callAsFunction(_ x: Tensor) -> [Tensor] {
    var y = conv1(x.channelsLast())
    var outputs: [Tensor] = configuration.outIndices.contains(0) ? [y] : []
    let last = configuration.outIndices.max() ?? 5
    for (i, stage) in stages.enumerated() where i < last {
      y = stage(y)
      if configuration.outIndices.contains(i + 1) { outputs.append(y) }
    }
    return outputs
  }
}

extension Darknet: FeatureBody {
  public func features(_ images: Tensor) -> [Tensor] { self(images) }
  public var branches: Int { 1 }
}
