import NN
import Torch

/// The neck part: what combines the backbone's feature maps into the maps the heads read.
public enum NeckConfiguration: Equatable, Sendable {
  /// The backbone's maps go to the heads unchanged (C4-style detectors).
  case none
  /// A feature pyramid (Lin et al. 2017).
  case fpn(FPNConfiguration)
  /// NAS-FPN (Ghiasi et al. 2019): three backbone maps to five levels through stacked merging
  /// cells.
  case nasFPN(NASFPNConfiguration)
  /// YOLOv3's neck (Redmon and Farhadi 2018): from the coarsest map down, detection blocks fed
  /// with the upsampled coarser output, as mmdetection's `YOLOV3Neck`.
  case yolov3(YOLOV3NeckConfiguration)
  /// BiFPN (Tan et al. 2020, EfficientDet): three backbone maps to five levels through stacked
  /// bidirectional layers with fast normalised fusion.
  case biFPN(BiFPNConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case none, fpn
    case nasFPN = "nas_fpn"
    case yolov3
    case biFPN = "bifpn"
  }

  public var kind: Kind {
    switch self {
    case .none: .none
    case .fpn: .fpn
    case .nasFPN: .nasFPN
    case .yolov3: .yolov3
    case .biFPN: .biFPN
    }
  }

  /// The maps the heads read, finest first, given the backbone's.
  /// Whether training recomputes the neck in backward instead of keeping its activations.
  public var checkpoint: Bool {
    switch self {
    case .none: false
    case .fpn(let c): c.checkpoint
    case .nasFPN(let c): c.checkpoint
    case .yolov3(let c): c.checkpoint
    case .biFPN(let c): c.checkpoint
    }
  }

  public func outputShapes(input: [FeatureMapShape]) -> [FeatureMapShape] {
    switch self {
    case .none:
      return input
    case .fpn(let c):
      let levels = input.map { FeatureMapShape(channels: c.channels, stride: $0.stride) }
      let coarsest = input.last?.stride ?? 32
      switch c.extraLevels {
      case .none: return levels
      case .maxPool: return levels + [FeatureMapShape(channels: c.channels, stride: coarsest * 2)]
      case .p6p7:
        return levels + [2, 4].map { FeatureMapShape(channels: c.channels, stride: coarsest * $0) }
      }
    case .nasFPN(let c):
      let finest = input.first?.stride ?? 8
      return [1, 2, 4, 8, 16].map { FeatureMapShape(channels: c.channels, stride: finest * $0) }
    case .yolov3(let c):
      return zip(input, c.outputChannels(input: input.map(\.channels))).map { FeatureMapShape(channels: $1, stride: $0.stride) }
    case .biFPN(let c):
      let finest = input.first?.stride ?? 8
      return [1, 2, 4, 8, 16].map { FeatureMapShape(channels: c.channels, stride: finest * $0) }
    }
  }
}

/// A feature pyramid's settings. The defaults are torchvision's Faster R-CNN FPN.
public struct FPNConfiguration: Codable, Equatable, Sendable {
  /// Channels of every pyramid level.
  public var channels = 256
  /// Normalisation after each convolution (null: plain convolutions with bias).
  @Nullable public var norm: NormKind? = nil
  /// Levels added above the coarsest: `max_pool` (Faster R-CNN's P6 by subsampling), `p6p7`
  /// (RetinaNet's and FCOS's strided convolutions) or `none`.
  public var extraLevels = ExtraLevels.maxPool
  /// `p6p7` only: whether P6 starts from the pyramid's P5 or the backbone's last map (C5).
  public var extraInput = ExtraLevelsInput.p5
  /// `p6p7` only: P7 from relu(P6) (torchvision) or from P6 (mmdetection's RetinaNet).
  public var reluBeforeP7 = true
  /// Whether the lateral 1×1 convolutions get `norm` too; false is mmdetection's
  /// `no_norm_on_lateral`.
  public var lateralNorm = true
  /// `p6p7` only: whether P6 and P7 get `norm` after their convolutions (mmdetection's FPN with a
  /// `norm_cfg`; torchvision's have none).
  public var extraNorm = false
  /// Activation checkpointing in training: keep only the pyramid's inputs and recompute it in
  /// backward.
  public var checkpoint = false

  public init(
    channels: Int = 256, norm: NormKind? = nil, extraLevels: ExtraLevels = .maxPool, extraInput: ExtraLevelsInput = .p5,
    reluBeforeP7: Bool = true, checkpoint: Bool = false
  ) {
    self.checkpoint = checkpoint
    self.channels = channels
    self.norm = norm
    self.extraLevels = extraLevels
    self.extraInput = extraInput
    self.reluBeforeP7 = reluBeforeP7
  }
}

/// Where the extra pyramid levels P6 and P7 start from.
public enum ExtraLevelsInput: String, ConfigChoice, Sendable {
  /// The FPN's P5 output (torchvision's `retinanet_resnet50_fpn`, `fcos_resnet50_fpn`).
  case p5
  /// The backbone's last map, C5 (torchvision's `retinanet_resnet50_fpn_v2`, mmdetection's RetinaNet).
  case c5
}

extension NeckConfiguration: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "neck") {
    case .none: self = .none
    case .fpn: self = .fpn(try FPNConfiguration(from: decoder))
    case .nasFPN: self = .nasFPN(try NASFPNConfiguration(from: decoder))
    case .yolov3: self = .yolov3(try YOLOV3NeckConfiguration(from: decoder))
    case .biFPN: self = .biFPN(try BiFPNConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .none: try encoder.encodePart(kind: kind, settings: nil)
    case .fpn(let c): try encoder.encodePart(kind: kind, settings: c)
    case .nasFPN(let c): try encoder.encodePart(kind: kind, settings: c)
    case .yolov3(let c): try encoder.encodePart(kind: kind, settings: c)
    case .biFPN(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}
