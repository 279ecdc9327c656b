import NN
import Torch

/// What turns pooled RoI features into one feature vector per RoI.
public protocol BoxHead: Module {
  func callAsFunction(_ x: Tensor) -> Tensor
}

/// The box head's architecture, for configs.
public enum BoxHeadKind: Codable, Equatable, Sendable {
  /// Two fully connected layers (Faster R-CNN's original head).
  case twoMLP(representationSize: Int)
  /// Convolutions with normalisation, then fully connected layers (torchvision's v2 models).
  case convFC(convolutions: [Int], fullyConnected: [Int], norm: NormKind)

  /// The length of the feature vector the head produces.
  var outputFeatures: Int {
    switch self {
    case .twoMLP(let size): size
    case .convFC(_, let fcs, _): fcs.last!
    }
  }

  func make(channels: Int, resolution: Int, generator: Generator?) -> any BoxHead {
    switch self {
    case .twoMLP(let size):
      TwoMLPHead(inputFeatures: channels * resolution * resolution, representationSize: size, generator: generator)
    case .convFC(let convs, let fcs, let norm):
      ConvFCHead(
        channels: channels, resolution: resolution, convolutions: convs, fullyConnected: fcs, norm: norm, generator: generator)
    }
  }
}

// Configs spell the head as a mapping with a `kind` and that kind's settings
// (`{kind: two_mlp, representation_size: 1024}`), readable in YAML where the synthesised form of
// an enum with associated values (`{twoMLP: {representationSize: 1024}}`) is not.
extension BoxHeadKind {
  private enum CodingKeys: String, CodingKey {
    case kind
    case representationSize = "representation_size"
    case convolutions
    case fullyConnected = "fully_connected"
    case norm
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try container.decode(String.self, forKey: .kind)
    switch kind {
    case "two_mlp":
      self = .twoMLP(representationSize: try container.decode(Int.self, forKey: .representationSize))
    case "conv_fc":
      self = .convFC(
        convolutions: try container.decode([Int].self, forKey: .convolutions),
        fullyConnected: try container.decode([Int].self, forKey: .fullyConnected),
        norm: try container.decode(NormKind.self, forKey: .norm))
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .kind, in: container, debugDescription: "unknown box head kind '\(kind)' (known: two_mlp, conv_fc)")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .twoMLP(let size):
      try container.encode("two_mlp", forKey: .kind)
      try container.encode(size, forKey: .representationSize)
    case .convFC(let convolutions, let fullyConnected, let norm):
      try container.encode("conv_fc", forKey: .kind)
      try container.encode(convolutions, forKey: .convolutions)
      try container.encode(fullyConnected, forKey: .fullyConnected)
      try container.encode(norm, forKey: .norm)
    }
  }
}

/// Two fully connected layers with ReLU over flattened pooled features (torchvision's
/// `TwoMLPHead`: `fc6`, `fc7`).
public final class TwoMLPHead: Module, BoxHead {
  let fc6: Linear
  let fc7: Linear

  public init(inputFeatures: Int, representationSize: Int, generator: Generator? = nil) {
    fc6 = Linear(inputFeatures, representationSize, generator: generator)
    fc7 = Linear(representationSize, representationSize, generator: generator)
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
    super.init()
  }

  public override var namedChildren: [(String, Module)] { layers.namedChildren }

  public func callAsFunction(_ x: Tensor) -> Tensor { layers(x) }
}

/// Class scores and per-class box offsets (torchvision's `FastRCNNPredictor`: `cls_score`,
/// `bbox_pred`). Class 0 is background.
public final class FastRCNNPredictor: Module {
  let clsScore: Linear
  let bboxPred: Linear

  public init(inputFeatures: Int, classes: Int, generator: Generator? = nil) {
    clsScore = Linear(inputFeatures, classes, generator: generator)
    bboxPred = Linear(inputFeatures, classes * 4, generator: generator)
    super.init()
  }

  /// Under autocast the two products still run in float32 (see `computedInFloat32`).
  public func callAsFunction(_ x: Tensor) -> (scores: Tensor, offsets: Tensor) {
    let flat = x.rank > 2 ? x.flattened(from: 1) : x
    return computedInFloat32(flat) { (clsScore($0), bboxPred($0)) }
  }
}
