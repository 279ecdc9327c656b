import NN
import Torch

/// Everything that defines a Faster R-CNN, decodable from a config file. The defaults are
/// torchvision's `fasterrcnn_resnet50_fpn`.
public struct FasterRCNNConfiguration: Codable, Equatable, Sendable {
  /// Classes including background (torchvision's COCO models use 91).
  public var classes: Int = 91
  public var backbone = ResNet.Configuration()
  public var fpnChannels = 256
  /// Normalisation inside the FPN (nil: plain convolutions with bias).
  public var fpnNorm: NormKind? = nil
  public var transform = ImageTransform()
  public var rpn = RPNConfiguration()
  public var roiHeads = RoIHeadsConfiguration()
  /// Mask R-CNN's mask branch; nil builds Faster R-CNN.
  public var maskHead: MaskHeadConfiguration? = nil
  /// Seed of the parameter initialisation and of the samplers.
  public var seed: UInt64 = 0

  public init() {}

  /// torchvision's `maskrcnn_resnet50_fpn`.
  public static func torchvisionMaskRCNNResNet50FPN(classes: Int = 91) -> FasterRCNNConfiguration {
    var c = torchvisionResNet50FPN(classes: classes)
    c.maskHead = MaskHeadConfiguration()
    return c
  }

  /// torchvision's `maskrcnn_resnet50_fpn_v2`: the v2 Faster R-CNN with batch norm in the mask head.
  public static func torchvisionMaskRCNNResNet50FPNv2(classes: Int = 91) -> FasterRCNNConfiguration {
    var c = torchvisionResNet50FPNv2(classes: classes)
    c.maskHead = MaskHeadConfiguration()
    c.maskHead!.norm = .batchNorm
    return c
  }

  /// torchvision's `fasterrcnn_resnet50_fpn` with `classes` classes (including background).
  public static func torchvisionResNet50FPN(classes: Int = 91) -> FasterRCNNConfiguration {
    var c = FasterRCNNConfiguration()
    c.classes = classes
    return c
  }

  /// torchvision's `fasterrcnn_resnet50_fpn_v2` (Li et al. 2021's improved recipe): batch
  /// norm in the backbone and the FPN, two convolutions in the RPN head, and a four-convolution,
  /// one-linear box head.
  public static func torchvisionResNet50FPNv2(classes: Int = 91) -> FasterRCNNConfiguration {
    var c = FasterRCNNConfiguration()
    c.classes = classes
    c.backbone.norm = .batchNorm
    c.fpnNorm = .batchNorm
    c.rpn.convDepth = 2
    c.roiHeads.boxHead = .convFC(convolutions: [256, 256, 256, 256], fullyConnected: [1024], norm: .batchNorm)
    return c
  }
}

extension FasterRCNNConfiguration {
  // Written out so that an absent FPN norm is encoded as an explicit null: config files compare
  // their keys against the encoded defaults, and the synthesised encoder would drop the key. The
  // mask head is the config layer's to write (its presence follows the model kind there).
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(classes, forKey: .classes)
    try container.encode(backbone, forKey: .backbone)
    try container.encode(fpnChannels, forKey: .fpnChannels)
    try container.encode(fpnNorm, forKey: .fpnNorm)
    try container.encode(transform, forKey: .transform)
    try container.encode(rpn, forKey: .rpn)
    try container.encode(roiHeads, forKey: .roiHeads)
    try container.encode(seed, forKey: .seed)
  }
}

/// What only inference reads, changeable on a built model (a config's `test:` section): the
/// test-time resize and the detections kept.
public struct InferenceSettings: Equatable, Sendable {
  /// Detections scoring below this are dropped.
  public var scoreThreshold: Double
  public var detectionsPerImage: Int
  /// The shorter side test images are resized to, and the longer side's limit.
  public var minSize: Int
  public var maxSize: Int

  public init(scoreThreshold: Double, detectionsPerImage: Int, minSize: Int, maxSize: Int) {
    self.scoreThreshold = scoreThreshold
    self.detectionsPerImage = detectionsPerImage
    self.minSize = minSize
    self.maxSize = maxSize
  }

  /// A detector configuration's test settings: its score threshold and detection count, and its
  /// training transform's last shorter-side size and longer-side limit (as torchvision tests).
  init(scoreThreshold: Double, detectionsPerImage: Int, trainingTransform transform: ImageTransform) {
    self.init(
      scoreThreshold: scoreThreshold, detectionsPerImage: detectionsPerImage, minSize: transform.minSize.last ?? 800,
      maxSize: transform.maxSize)
  }

  /// The configuration's own values.
  public init(_ configuration: FasterRCNNConfiguration) {
    self.init(
      scoreThreshold: configuration.roiHeads.scoreThreshold, detectionsPerImage: configuration.roiHeads.detectionsPerImage,
      trainingTransform: configuration.transform)
  }
}

/// Faster R-CNN with a feature pyramid (Ren et al. 2015; Lin et al. 2017), composed of a ResNet
/// body, an FPN, a region proposal network and RoI heads. Names follow torchvision's
/// `FasterRCNN`, so its state dicts load with `strict: true`.
public final class FasterRCNN: Module {
  public let backbone: BackboneWithFPN
  public let rpn: RegionProposalNetwork
  public let roiHeads: RoIHeads
  public let configuration: FasterRCNNConfiguration
  /// Read by `detect` only; training keeps using `configuration`.
  public var inference: InferenceSettings
  /// Draws training's random choices (sizes, samplers) once the initialisation is seeded.
  public let generator: Generator

  public init(_ configuration: FasterRCNNConfiguration) {
    self.configuration = configuration
    inference = InferenceSettings(configuration)
    let g = Generator(seed: configuration.seed)
    generator = g
    let body = ResNet(configuration.backbone, generator: g)
    let fpn = FeaturePyramidNetwork(
      inputChannels: body.stageChannels, outputChannels: configuration.fpnChannels, extra: .maxPool,
      norm: configuration.fpnNorm, generator: g)
    backbone = BackboneWithFPN(body: body, fpn: fpn)
    rpn = RegionProposalNetwork(configuration: configuration.rpn, channels: configuration.fpnChannels, generator: g)
    roiHeads = RoIHeads(
      configuration: configuration.roiHeads, channels: configuration.fpnChannels, classes: configuration.classes,
      mask: configuration.maskHead, generator: g)
    super.init()
  }

  /// Detections for `images` (each `[3, H, W]`, float in [0, 1]), in original image pixels.
  /// Runs without recording gradients; call `eval()` first so batch norms use their statistics.
  public func detect(_ images: [Tensor]) -> [Instances] {
    withNoGrad {
      let timer = OperationTimer.shared
      let transform = configuration.transform.forTesting(inference)
      let (batch, _) = timer.measure("transform") { transform(images) }
      let features = timer.measure("backbone") { backbone(batch.tensor) }
      let proposals = timer.measure("rpn") { rpn.propose(features: features, images: batch) }
      let detections = timer.measure("roi_heads") {
        roiHeads.detect(
          features: Array(features.prefix(4)), proposals: proposals, images: batch,
          scoreThreshold: inference.scoreThreshold, detectionsPerImage: inference.detectionsPerImage)
      }
      return detections.enumerated().map { i, d in
        var out = Instances(imageSize: batch.originalSizes[i])
        for (name, value) in d.fields {
          out[name] = name == "boxes" ? transform.boxesToOriginal(value, in: batch, index: i) : value
        }
        if let masks = d["masks"] {
          let size = batch.originalSizes[i]
          out["masks"] = timer.measure("paste_masks") {
            MaskOperations.paste(
              masks, boxes: out["boxes"]!, height: size.height, width: size.width,
              pasting: configuration.maskHead?.paste ?? .boxResize)
          }
        }
        return out
      }
    }
  }

  /// The RPN proposals for `images`, in the resized images' pixels (for inspection and parity checks).
  public func proposals(_ images: [Tensor]) -> (ImageBatch, [Proposals]) {
    withNoGrad {
      let (batch, _) = configuration.transform(images)
      return (batch, rpn.propose(features: backbone(batch.tensor), images: batch))
    }
  }

  /// The training losses for `images` and their `targets` (fields `boxes` in image pixels and
  /// `labels` in `1..<classes`, and for Mask R-CNN `masks` `[N, H, W]`): `loss_objectness`,
  /// `loss_rpn_box_reg`, `loss_classifier`, `loss_box_reg`, and `loss_mask` with masks.
  public func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor] {
    precondition(images.count == targets.count, "FasterRCNN.losses needs one target per image")
    let timer = OperationTimer.shared
    let (batch, resizedTargets) = timer.measure("transform") {
      configuration.transform(images, targets: targets, generator: generator)
    }
    let features = timer.measure("backbone") { backbone(batch.tensor) }
    let (proposals, rpnLosses) = timer.measure("rpn") {
      rpn.proposeAndLearn(features: features, images: batch, targets: resizedTargets!)
    }
    let headLosses = timer.measure("roi_heads") {
      roiHeads.learn(features: Array(features.prefix(4)), proposals: proposals, images: batch, targets: resizedTargets!)
    }
    return rpnLosses.merging(headLosses) { a, _ in a }
  }
}
