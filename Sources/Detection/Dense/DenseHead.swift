import NN
import Torch

/// A one-stage detector's head: it reads every map of the neck and both trains and selects
/// detections by itself (anchors, matching and losses are its own business).
public protocol DenseHead: Module {
  /// The training losses by name, for `targets` already resized into `batch`.
  func losses(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> [String: Tensor]
  /// Each image's detections in the batch's (resized) pixels.
  func detect(features: [Tensor], batch: ImageBatch, settings: InferenceSettings) -> [DenseDetections]
}

/// The dense head part, chosen by `kind` (`head: {kind: retinanet, ...}`).
public enum DenseHeadConfiguration: Equatable, Sendable {
  case retinaNet(RetinaNetHeadConfiguration)
  case fcos(FCOSHeadConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case retinaNet = "retinanet"
    case fcos
  }

  public var kind: Kind {
    switch self {
    case .retinaNet: .retinaNet
    case .fcos: .fcos
    }
  }

  /// Pyramid levels the head expects (one per entry of its anchor sizes).
  public var levels: Int {
    switch self {
    case .retinaNet(let c): c.anchorSizes.count
    case .fcos(let c): c.anchorSizes.count
    }
  }

  /// The detections kept by default: the score threshold and the count per image.
  public var scoreThreshold: Double {
    switch self {
    case .retinaNet(let c): c.scoreThreshold
    case .fcos(let c): c.scoreThreshold
    }
  }

  public var detectionsPerImage: Int {
    switch self {
    case .retinaNet(let c): c.detectionsPerImage
    case .fcos(let c): c.detectionsPerImage
    }
  }

  func make(channels: Int, classes: Int, generator: Generator) -> any DenseHead {
    switch self {
    case .retinaNet(let c): RetinaNetHead(configuration: c, channels: channels, classes: classes, generator: generator)
    case .fcos(let c): FCOSHead(configuration: c, channels: channels, classes: classes, generator: generator)
    }
  }
}

extension DenseHeadConfiguration: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "dense head") {
    case .retinaNet: self = .retinaNet(try RetinaNetHeadConfiguration(from: decoder))
    case .fcos: self = .fcos(try FCOSHeadConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .retinaNet(let c): try encoder.encodePart(kind: kind, settings: c)
    case .fcos(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}
