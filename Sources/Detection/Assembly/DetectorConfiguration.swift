import NN
import Torch

/// A detector as an assembly of parts, decodable from a config's `model:` section: a backbone,
/// a neck, and either a region proposal network with RoI heads (two-stage detectors) or a
/// dense head (one-stage detectors). Channels and strides flow from each part's declared
/// outputs into the next, so no part repeats another's sizes. The defaults are torchvision's
/// `fasterrcnn_resnet50_fpn`.
public struct DetectorConfiguration: Codable, Equatable, Sendable {
  /// Classes including background for the R-CNNs (torchvision's COCO models use 91); sigmoid
  /// outputs, one per class index, for the dense heads.
  public var classes = 91
  public var transform = ImageTransform()
  public var backbone = BackboneConfiguration.resnet(ResNet.Configuration())
  public var neck = NeckConfiguration.fpn(FPNConfiguration())
  /// Two-stage detectors: the proposals (null for one-stage detectors).
  @Nullable public var rpn: RPNConfiguration? = RPNConfiguration()
  /// Two-stage detectors: the second stage (null for one-stage detectors).
  @Nullable public var roiHeads: RoIHeadsPart? = .standard(RoIHeadsConfiguration())
  /// One-stage detectors: the dense head (null for two-stage detectors).
  @Nullable public var head: DenseHeadConfiguration? = nil
  /// Seed of the parameter initialisation and of training's random draws.
  public var seed: UInt64 = 0
  /// Quantization-aware training: fake INT8 in the chosen layers (null: floating point).
  @Nullable public var quantize: QuantizationConfiguration? = nil

  public init() {}

  /// A one-stage detector with `head` on the default backbone and neck.
  public init(head: DenseHeadConfiguration) {
    rpn = nil
    roiHeads = nil
    self.head = head
  }

  /// The maps the backbone hands to the neck, finest first.
  public var backboneOutputs: [FeatureMapShape] { backbone.outputShapes }

  /// The maps the heads read, finest first.
  public var neckOutputs: [FeatureMapShape] { neck.outputShapes(input: backbone.outputShapes) }

  /// Whether the detector predicts masks.
  public var hasMasks: Bool { roiHeads?.maskHead != nil }

  /// The built detector, with its seeded initialisation. The parts must agree (a config checks
  /// that when it loads): either `rpn` and `roiHeads` or `head`.
  public func makeDetector() -> any Detector {
    let detector: any Detector = head != nil ? DenseDetector(self) : GeneralizedRCNN(self)
    if let quantize {
      detector.enableFakeQuantization(
        quantize.settings, convolutions: quantize.layers.contains(.conv), linearLayers: quantize.layers.contains(.linear))
    }
    return detector
  }
}
