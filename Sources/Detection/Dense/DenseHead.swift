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
  /// YOLOv3's head (Redmon and Farhadi 2018), as mmdetection's `YOLOV3Head`.
  case yolov3(YOLOV3HeadConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case retinaNet = "retinanet"
    case fcos
    case yolov3
  }

  public var kind: Kind {
    switch self {
    case .retinaNet: .retinaNet
    case .fcos: .fcos
    case .yolov3: .yolov3
    }
  }

  /// Pyramid levels the head expects (one per entry of its anchor sizes).
  public var levels: Int {
    switch self {
    case .retinaNet(let c): c.anchorSizes.count
    case .fcos(let c): c.anchorSizes.count
    case .yolov3(let c): c.anchorSizes.count
    }
  }

  /// The detections kept by default: the score threshold and the count per image.
  public var scoreThreshold: Double {
    switch self {
    case .retinaNet(let c): c.scoreThreshold
    case .fcos(let c): c.scoreThreshold
    case .yolov3(let c): c.scoreThreshold
    }
  }

  public var detectionsPerImage: Int {
    switch self {
    case .retinaNet(let c): c.detectionsPerImage
    case .fcos(let c): c.detectionsPerImage
    case .yolov3(let c): c.detectionsPerImage
    }
  }

  /// Whether the head reads every level with the same convolutions, so that the levels need
  /// equal channels (RetinaNet, FCOS); YOLOv3 has convolutions per level.
  public var sharesConvolutionsAcrossLevels: Bool {
    if case .yolov3 = self { return false }
    return true
  }

  /// The head for the neck's `levels` (finest first).
  func make(levels: [FeatureMapShape], classes: Int, generator: Generator) -> any DenseHead {
    let channels = levels[0].channels
    switch self {
    case .retinaNet(let c): return RetinaNetHead(configuration: c, channels: channels, classes: classes, generator: generator)
    case .fcos(let c): return FCOSHead(configuration: c, channels: channels, classes: classes, generator: generator)
    case .yolov3(let c): return YOLOV3Head(configuration: c, levels: levels, classes: classes, generator: generator)
    }
  }
}

extension DenseHeadConfiguration: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "dense head") {
    case .retinaNet: self = .retinaNet(try RetinaNetHeadConfiguration(from: decoder))
    case .fcos: self = .fcos(try FCOSHeadConfiguration(from: decoder))
    case .yolov3: self = .yolov3(try YOLOV3HeadConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .retinaNet(let c): try encoder.encodePart(kind: kind, settings: c)
    case .fcos(let c): try encoder.encodePart(kind: kind, settings: c)
    case .yolov3(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}
