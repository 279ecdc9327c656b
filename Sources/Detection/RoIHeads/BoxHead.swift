import NN
import Torch

/// What turns pooled RoI features into one feature vector per RoI.
public protocol BoxHead: Module {
  func callAsFunction(_ x: Tensor) -> Tensor
  /// The head with its layers as checkpointed segments in training when `checkpointing` (see
  /// `checkpointedLayers`); heads too small to gain run as they are.
  func callAsFunction(_ x: Tensor, checkpointing: Bool) -> Tensor
  /// The length of the feature vector it produces per RoI.
  var outputFeatures: Int { get }
}

extension BoxHead {
  public func callAsFunction(_ x: Tensor, checkpointing: Bool) -> Tensor { self(x) }
}

/// The box head's architecture, for configs.
public enum BoxHeadKind: Codable, Equatable, Sendable {
  /// Two fully connected layers (Faster R-CNN's original head).
  case twoMLP(representationSize: Int)
  /// Convolutions with normalisation, then fully connected layers (torchvision's v2 models).
  case convFC(convolutions: [Int], fullyConnected: [Int], norm: NormKind)
  /// The backbone ResNet's stage 5 run on the pooled features, then averaged over space: the
  /// head of the C4 detectors (Ren et al. 2015 with ResNets; detectron2's `Res5ROIHeads`). It
  /// continues the backbone, whose settings (depth, norm, width) it takes.
  case resNetStage

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case twoMLP = "two_mlp"
    case convFC = "conv_fc"
    case resNetStage = "resnet_stage"
  }

  public var kind: Kind {
    switch self {
    case .twoMLP: .twoMLP
    case .convFC: .convFC
    case .resNetStage: .resNetStage
    }
  }

  /// The head for pooled maps of `channels` channels and `resolution`² cells, after `backbone`.
  func make(channels: Int, resolution: Int, backbone: BackboneConfiguration, generator: Generator?) -> any BoxHead {
    switch self {
    case .twoMLP(let size):
      TwoMLPHead(inputFeatures: channels * resolution * resolution, representationSize: size, generator: generator)
    case .convFC(let convs, let fcs, let norm):
      ConvFCHead(
        channels: channels, resolution: resolution, convolutions: convs, fullyConnected: fcs, norm: norm, generator: generator)
    case .resNetStage:
      // Validated by the config: the backbone is a ResNet ending at C4.
      ResNetStageHead(backbone: backbone.resNet!, inputChannels: channels, generator: generator)
    }
  }
}

// Configs spell the head as a mapping with a `kind` and that kind's settings
// (`{kind: two_mlp, representation_size: 1024}`), readable in YAML where the synthesised form of
// an enum with associated values (`{twoMLP: {representationSize: 1024}}`) is not.
extension BoxHeadKind {
  private enum CodingKeys: String, CodingKey {
    case representationSize = "representation_size"
    case convolutions
    case fullyConnected = "fully_connected"
    case norm
  }

  public init(from decoder: any Decoder) throws {
    let kind = try decoder.partKind(Kind.self, family: "box head")
    let container = try decoder.container(keyedBy: CodingKeys.self)
    switch kind {
    case .twoMLP:
      self = .twoMLP(representationSize: try container.decode(Int.self, forKey: .representationSize))
    case .convFC:
      self = .convFC(
        convolutions: try container.decode([Int].self, forKey: .convolutions),
        fullyConnected: try container.decode([Int].self, forKey: .fullyConnected),
        norm: try container.decode(NormKind.self, forKey: .norm))
    case .resNetStage:
      self = .resNetStage
    }
  }

  public func encode(to encoder: any Encoder) throws {
    try encoder.encodePart(kind: kind, settings: nil)
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .twoMLP(let size):
      try container.encode(size, forKey: .representationSize)
    case .convFC(let convolutions, let fullyConnected, let norm):
      try container.encode(convolutions, forKey: .convolutions)
      try container.encode(fullyConnected, forKey: .fullyConnected)
      try container.encode(norm, forKey: .norm)
    case .resNetStage:
      break
    }
  }
}

/// Two fully connected layers with ReLU over flattened pooled features (torchvision's
/// `TwoMLPHead`: `fc6`, `fc7`).
public final class TwoMLPHead: Module, BoxHead {
  let fc6: Linear
  let fc7: Linear

  public let outputFeatures: Int

  public init(inputFeatures: Int, representationSize: Int, generator: Generator? = nil) {
    fc6 = Linear(inputFeatures, representationSize, generator: generator)
    fc7 = Linear(representationSize, representationSize, generator: generator)
    outputFeatures = representationSize
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    fc7(fc6(x.flattened(from: 1)).relu()).relu()
  }
}

/// 3×3 convolution–norm–ReLU blocks, then fully connected layers with ReLU (torchvision's
/// `FastRCNNConvFCHead`, numbered like its `Sequential`: `0.0.weight`, `0.1.running_mean`, ...,
/// `5.weight` for the first linear layer after four blocks and a flatten).
public final class ConvFCHead: Module, BoxHead {
  let layers: Sequential
  public let outputFeatures: Int

  public init(
    channels: Int, resolution: Int, convolutions: [Int], fullyConnected: [Int], norm: NormKind,
    generator: Generator? = nil
  ) {
    var blocks: [any UnaryLayer] = []
    var previous = channels
    for width in convolutions {
      let conv = Conv2d(previous, width, kernelSize: 3, padding: 1, bias: false, generator: generator)
      Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      blocks.append(Sequential(conv, norm.make(width), Activation.relu()))
      previous = width
    }
    blocks.append(Flatten())
    previous *= resolution * resolution
    for width in fullyConnected {
      blocks.append(Linear(previous, width, generator: generator))
      blocks.append(Activation.relu())
      previous = width
    }
    layers = Sequential(blocks)
    outputFeatures = previous
    super.init()
  }

  public override var namedChildren: [(String, Module)] { layers.namedChildren }

  public func callAsFunction(_ x: Tensor) -> Tensor { layers(x) }

  public func callAsFunction(_ x: Tensor, checkpointing: Bool) -> Tensor { checkpointedLayers(checkpointing, layers, x) }
}

/// Stage 5 of the backbone's ResNet over pooled RoI features, striding by 2, then the mean over
/// space: `layer4.0.conv1.weight`, ... as in the ResNet (a C4 detector's backbone stops at C4).
public final class ResNetStageHead: Module, BoxHead {
  let layer4: Sequential
  public let outputFeatures: Int

  init(backbone: ResNet.Configuration, inputChannels: Int, generator: Generator?) {
    layer4 = ResNet.stage(3, configuration: backbone, inputChannels: inputChannels, firstStride: 2, generator: generator)
    outputFeatures = backbone.channels(ofStage: 3)
    super.init()
    ResNet.initialize(self, generator: generator)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    layer4(x.channelsLast()).mean(axes: [2, 3])
  }

  public func callAsFunction(_ x: Tensor, checkpointing: Bool) -> Tensor {
    checkpointedLayers(checkpointing, layer4, x.channelsLast()).mean(axes: [2, 3])
  }
}

/// Class scores and per-class box offsets (torchvision's `FastRCNNPredictor`: `cls_score`,
/// `bbox_pred`). Class 0 is background. Class-agnostic predictors (Cascade R-CNN's) give one box
/// per RoI.
public final class FastRCNNPredictor: Module {
  let clsScore: Linear
  let bboxPred: Linear

  public init(inputFeatures: Int, classes: Int, classAgnostic: Bool = false, generator: Generator? = nil) {
    clsScore = Linear(inputFeatures, classes, generator: generator)
    bboxPred = Linear(inputFeatures, classAgnostic ? 4 : classes * 4, generator: generator)
    super.init()
  }

  /// Under autocast the two products still run in float32 (see `computedInFloat32`).
  public func callAsFunction(_ x: Tensor) -> (scores: Tensor, offsets: Tensor) {
    let flat = x.rank > 2 ? x.flattened(from: 1) : x
    return computedInFloat32(flat) { (clsScore($0), bboxPred($0)) }
  }
}
