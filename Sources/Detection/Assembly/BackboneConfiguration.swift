import NN
import Torch

/// The backbone part: the network that turns images into feature maps. Its `kind` selects the
/// architecture, and the kind's own keys follow it in the config
/// (`backbone: {kind: resnet, depth: 50, out_features: [c2, c3, c4, c5]}`).
public enum BackboneConfiguration: Equatable, Sendable {
  /// ResNet and ResNeXt (torchvision's names, so ImageNet weights load).
  case resnet(ResNet.Configuration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case resnet
  }

  public var kind: Kind {
    switch self {
    case .resnet: .resnet
    }
  }

  /// Channels and stride of each feature map handed to the neck, finest first.
  public var outputShapes: [FeatureMapShape] {
    switch self {
    case .resnet(let c): c.outputShapes
    }
  }

  /// The ResNet settings, for parts that continue a ResNet (the C4 box head); nil otherwise.
  public var resNet: ResNet.Configuration? {
    switch self {
    case .resnet(let c): c
    }
  }

  /// The built backbone, seeded from `generator`.
  func make(generator: Generator) -> any FeatureBody {
    switch self {
    case .resnet(let c): ResNet(c, generator: generator)
    }
  }
}

extension BackboneConfiguration: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "backbone") {
    case .resnet: self = .resnet(try ResNet.Configuration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .resnet(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}

/// A backbone network as the assembly sees it: images in, the configured feature maps out.
public protocol FeatureBody: Module {
  /// The configured feature maps (`outputShapes`), finest first.
  func features(_ images: Tensor) -> [Tensor]
}

extension ResNet: FeatureBody {
  public func features(_ images: Tensor) -> [Tensor] {
    let stages = self(images)
    return configuration.outFeatures.map { stages[$0.stageIndex] }
  }
}
