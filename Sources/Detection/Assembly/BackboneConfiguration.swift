import NN
import Torch

/// The backbone part: the network that turns images into feature maps. Its `kind` selects the
/// architecture, and the kind's own keys follow it in the config
/// (`backbone: {kind: resnet, depth: 50, out_features: [c2, c3, c4, c5]}`).
public enum BackboneConfiguration: Equatable, Sendable {
  /// ResNet and ResNeXt (torchvision's names, so ImageNet weights load).
  case resnet(ResNet.Configuration)
  /// TridentNet (Li et al. 2019): a ResNet whose last built stage runs as branches with shared
  /// weights and different dilations (a C4 backbone in the paper).
  case trident(TridentConfiguration)
  /// Darknet-53 (Redmon and Farhadi 2018), YOLOv3's backbone, with mmdetection's names.
  case darknet(Darknet.Configuration)
  /// EfficientNet B0–B7 (Tan and Le 2019; torchvision's names, so ImageNet weights load).
  case efficientNet(EfficientNetConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case resnet, trident, darknet
    case efficientNet = "efficientnet"
  }

  public var kind: Kind {
    switch self {
    case .resnet: .resnet
    case .trident: .trident
    case .darknet: .darknet
    case .efficientNet: .efficientNet
    }
  }

  /// Channels and stride of each feature map handed to the neck, finest first.
  public var outputShapes: [FeatureMapShape] {
    if case .darknet(let c) = self { return c.outputShapes }
    if case .efficientNet(let c) = self { return c.outputShapes }
    return resNet?.outputShapes ?? []
  }

  /// The ResNet settings, for parts that continue a ResNet (the C4 box head); nil otherwise.
  public var resNet: ResNet.Configuration? {
    switch self {
    case .resnet(let c): c
    case .trident(let c): c.resNet
    case .darknet: nil
    case .efficientNet: nil
    }
  }

  /// Darknet's settings (nil for other kinds).
  public var darknet: Darknet.Configuration? {
    if case .darknet(let c) = self { return c }
    return nil
  }

  /// EfficientNet's settings (nil for other kinds).
  public var efficientNet: EfficientNetConfiguration? {
    if case .efficientNet(let c) = self { return c }
    return nil
  }

  /// TridentNet's settings (nil for other kinds).
  public var trident: TridentConfiguration? {
    if case .trident(let c) = self { return c }
    return nil
  }

  /// The built backbone, seeded from `generator`.
  func make(generator: Generator) -> any FeatureBody {
    switch self {
    case .resnet(let c): ResNet(c, generator: generator)
    case .trident(let c): ResNet(c.resNet, trident: c.branches, generator: generator)
    case .darknet(let c): Darknet(c, generator: generator)
    case .efficientNet(let c): EfficientNet(c, generator: generator)
    }
  }
}

extension BackboneConfiguration: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "backbone") {
    case .resnet: self = .resnet(try ResNet.Configuration(from: decoder))
    case .trident: self = .trident(try TridentConfiguration(from: decoder))
    case .darknet: self = .darknet(try Darknet.Configuration(from: decoder))
    case .efficientNet: self = .efficientNet(try EfficientNetConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .resnet(let c): try encoder.encodePart(kind: kind, settings: c)
    case .trident(let c): try encoder.encodePart(kind: kind, settings: c)
    case .darknet(let c): try encoder.encodePart(kind: kind, settings: c)
    case .efficientNet(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}

/// A backbone network as the assembly sees it: images in, the configured feature maps out.
public protocol FeatureBody: Module {
  /// The configured feature maps (`outputShapes`), finest first.
  func features(_ images: Tensor) -> [Tensor]
  /// How many maps per image the features hold now, one after another along the batch axis
  /// (TridentNet's branches; 1 for ordinary backbones).
  var branches: Int { get }
}

extension ResNet: FeatureBody {
  public func features(_ images: Tensor) -> [Tensor] {
    let stages = self(images)
    return configuration.outFeatures.map { stages[$0.stageIndex] }
  }
}
