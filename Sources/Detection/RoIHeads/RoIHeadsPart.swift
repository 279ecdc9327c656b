import NN
import Torch

/// The RoI heads part of a two-stage detector, chosen by `kind`.
public enum RoIHeadsPart: Equatable, Sendable {
  /// One box head and predictor, and optionally a mask branch (Faster and Mask R-CNN).
  case standard(RoIHeadsConfiguration)
  /// Stages of box heads at rising IoU thresholds (Cascade R-CNN), optionally with a mask branch.
  case cascade(CascadeRoIHeadsConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case standard, cascade
  }

  public var kind: Kind {
    switch self {
    case .standard: .standard
    case .cascade: .cascade
    }
  }

  /// The settings of standard heads (nil for other kinds); setting them makes the heads standard.
  public var standard: RoIHeadsConfiguration? {
    get {
      if case .standard(let c) = self { return c }
      return nil
    }
    set { if let newValue { self = .standard(newValue) } }
  }

  /// The settings of cascade heads (nil for other kinds); setting them makes the heads a cascade.
  public var cascade: CascadeRoIHeadsConfiguration? {
    get {
      if case .cascade(let c) = self { return c }
      return nil
    }
    set { if let newValue { self = .cascade(newValue) } }
  }

  /// The mask branch, whatever the kind (nil: boxes only).
  public var maskHead: MaskHeadConfiguration? {
    switch self {
    case .standard(let c): c.maskHead
    case .cascade(let c): c.maskHead
    }
  }

  /// The detections kept by default: the score threshold and the count per image.
  public var scoreThreshold: Double {
    switch self {
    case .standard(let c): c.scoreThreshold
    case .cascade(let c): c.scoreThreshold
    }
  }

  /// The NMS that detections go through by default (class-wise, at the heads' threshold).
  public var nms: NMSMethod {
    switch self {
    case .standard(let c): .standard(iouThreshold: c.nmsThreshold)
    case .cascade(let c): .standard(iouThreshold: c.nmsThreshold)
    }
  }

  public var detectionsPerImage: Int {
    switch self {
    case .standard(let c): c.detectionsPerImage
    case .cascade(let c): c.detectionsPerImage
    }
  }

  func make(input: FeatureMapShape, classes: Int, backbone: BackboneConfiguration, generator: Generator) -> any SecondStage {
    switch self {
    case .standard(let c):
      RoIHeads(configuration: c, channels: input.channels, classes: classes, backbone: backbone, generator: generator)
    case .cascade(let c):
      CascadeRoIHeads(configuration: c, channels: input.channels, classes: classes, backbone: backbone, generator: generator)
    }
  }
}

extension RoIHeadsPart: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "RoI heads") {
    case .standard: self = .standard(try RoIHeadsConfiguration(from: decoder))
    case .cascade: self = .cascade(try CascadeRoIHeadsConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .standard(let c): try encoder.encodePart(kind: kind, settings: c)
    case .cascade(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}
