import NN
import Torch

/// Where RetinaNet's and FCOS's extra pyramid levels P6 and P7 start from.
public enum ExtraLevelsInput: String, Codable, Sendable {
  /// The FPN's P5 output (torchvision's `retinanet_resnet50_fpn`, `fcos_resnet50_fpn`).
  case p5
  /// The backbone's last stage C5 (torchvision's `retinanet_resnet50_fpn_v2`).
  case c5
}

/// Everything that defines a RetinaNet, decodable from a config file. The defaults are
/// torchvision's `retinanet_resnet50_fpn`.
///
/// Labels: RetinaNet has no background class. Its `classes` sigmoid outputs are indexed by the
/// targets' `labels` directly, `0..<classes`, as in torchvision. torchvision's COCO models use the
/// 91 COCO category ids as indices (index 0 and the unused ids are never positive), so datasets
/// that give labels `1..<classes` with 0 meaning background, as for Faster R-CNN, work unchanged
/// with the same `classes`; output 0 then stays unused.
public struct RetinaNetConfiguration: Codable, Equatable, Sendable {
  /// Sigmoid outputs, one per class index (no background class): 91 for torchvision's COCO models.
  public var classes: Int = 91
  public var backbone = ResNet.Configuration()
  public var fpnChannels = 256
  public var extraLevelsInput = ExtraLevelsInput.p5
  public var transform = ImageTransform()
  /// Anchor sizes per level P3–P7: torchvision's `_default_anchorgen`, x·2^(0, 1/3, 2/3) truncated.
  public var anchorSizes: [[Double]] = [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]]
  public var aspectRatios: [[Double]] = Array(repeating: [0.5, 1, 2], count: 5)
  /// Round the anchor templates to whole pixels (torchvision); false for mmdetection's weights,
  /// whose anchor sizes are exact (32, 40.32, 50.80, …).
  public var roundAnchors = true
  /// Anchor stride of each level in pixels, as mmdetection's `strides` ([8, 16, 32, 64, 128]);
  /// empty (torchvision) to take them from the feature sizes.
  public var anchorStrides: [Int] = []
  /// Anchors whose best IoU reaches this are foreground.
  public var foregroundIoU = 0.5
  /// Anchors whose best IoU is below this are background; those in between are ignored.
  public var backgroundIoU = 0.4
  /// Also make each ground truth's best anchors foreground, whatever their IoU.
  public var allowLowQualityMatches = true
  public var focalLossAlpha = 0.25
  public var focalLossGamma = 2.0
  public var boxRegressionLoss = BoxRegressionLoss.l1
  /// The initial foreground probability the classification bias encodes.
  public var priorProbability = 0.01
  /// Normalisation in the head's convolution towers (nil: plain convolutions with bias; v2 uses
  /// group norm with 32 groups).
  public var headNorm: NormKind? = nil
  /// Detections scoring below this are dropped before ranking.
  public var scoreThreshold = 0.05
  /// Candidates kept per level before NMS.
  public var topCandidates = 1000
  public var nmsThreshold = 0.5
  public var detectionsPerImage = 300
  /// Seed of the parameter initialisation and of training's size draws.
  public var seed: UInt64 = 0

  public init() {}

  /// torchvision's `retinanet_resnet50_fpn` with `classes` sigmoid outputs.
  public static func torchvisionResNet50FPN(classes: Int = 91) -> RetinaNetConfiguration {
    var c = RetinaNetConfiguration()
    c.classes = classes
    return c
  }

  /// torchvision's `retinanet_resnet50_fpn_v2` (Zhang et al.'s ATSS-paper recipe): batch norm in
  /// the backbone, P6 from C5, group norm in the head, and a GIoU box loss.
  public static func torchvisionResNet50FPNv2(classes: Int = 91) -> RetinaNetConfiguration {
    var c = RetinaNetConfiguration()
    c.classes = classes
    c.backbone.norm = .batchNorm
    c.extraLevelsInput = .c5
    c.headNorm = .groupNorm
    c.boxRegressionLoss = .giou
    return c
  }
}

extension RetinaNetConfiguration {
  // Written out so that an absent head norm is encoded as an explicit null: config files compare
  // their keys against the encoded defaults, and the synthesised encoder would drop the key.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(classes, forKey: .classes)
    try container.encode(backbone, forKey: .backbone)
    try container.encode(fpnChannels, forKey: .fpnChannels)
    try container.encode(extraLevelsInput, forKey: .extraLevelsInput)
    try container.encode(transform, forKey: .transform)
    try container.encode(anchorSizes, forKey: .anchorSizes)
    try container.encode(aspectRatios, forKey: .aspectRatios)
    try container.encode(roundAnchors, forKey: .roundAnchors)
    try container.encode(anchorStrides, forKey: .anchorStrides)
    try container.encode(foregroundIoU, forKey: .foregroundIoU)
    try container.encode(backgroundIoU, forKey: .backgroundIoU)
    try container.encode(allowLowQualityMatches, forKey: .allowLowQualityMatches)
    try container.encode(focalLossAlpha, forKey: .focalLossAlpha)
    try container.encode(focalLossGamma, forKey: .focalLossGamma)
    try container.encode(boxRegressionLoss, forKey: .boxRegressionLoss)
    try container.encode(priorProbability, forKey: .priorProbability)
    try container.encode(headNorm, forKey: .headNorm)
    try container.encode(scoreThreshold, forKey: .scoreThreshold)
    try container.encode(topCandidates, forKey: .topCandidates)
    try container.encode(nmsThreshold, forKey: .nmsThreshold)
    try container.encode(detectionsPerImage, forKey: .detectionsPerImage)
    try container.encode(seed, forKey: .seed)
  }
}

extension InferenceSettings {
  /// The configuration's own values.
  public init(_ configuration: RetinaNetConfiguration) {
    self.init(
      scoreThreshold: configuration.scoreThreshold, detectionsPerImage: configuration.detectionsPerImage,
      trainingTransform: configuration.transform)
  }
}

/// RetinaNet (Lin et al. 2017, "Focal Loss for Dense Object Detection"): a ResNet body, an FPN
/// over C3–C5 with extra levels P6 and P7, and a head shared across levels that predicts class
/// probabilities and box offsets for every anchor, trained with the focal loss. Names follow
/// torchvision's `RetinaNet`, so its state dicts load with `strict: true`.
///
/// Labels are class indices `0..<classes` of the sigmoid outputs, with no background class (see
/// `RetinaNetConfiguration`).
public final class RetinaNet: Module, Detector {
  public let backbone: BackboneWithFPN
  public let head: RetinaNetHead
  public let anchorGenerator: AnchorGenerator
  public let configuration: RetinaNetConfiguration
  /// Read by `detect` only; training keeps using `configuration`.
  public var inference: InferenceSettings
  /// Draws training's random choices (sizes, samplers) once the initialisation is seeded.
  public let generator: Generator
  let coder = BoxCoder(weights: (1, 1, 1, 1))
  let matcher: Matcher

  public init(_ configuration: RetinaNetConfiguration) {
    self.configuration = configuration
    inference = InferenceSettings(configuration)
    let g = Generator(seed: configuration.seed)
    generator = g
    let body = ResNet(configuration.backbone, generator: g)
    let returnedStages = [2, 3, 4]
    let fpn = FeaturePyramidNetwork(
      inputChannels: returnedStages.map { body.stageChannels[$0 - 1] }, outputChannels: configuration.fpnChannels,
      extra: .p6p7,
      p6p7InputChannels: configuration.extraLevelsInput == .p5 ? configuration.fpnChannels : body.stageChannels[3],
      generator: g)
    backbone = BackboneWithFPN(body: body, fpn: fpn, returnedStages: returnedStages)
    anchorGenerator = AnchorGenerator(
      sizes: configuration.anchorSizes, aspectRatios: configuration.aspectRatios, roundsBaseAnchors: configuration.roundAnchors,
      strides: configuration.anchorStrides)
    let perLocation = Set(anchorGenerator.anchorsPerLocation)
    precondition(perLocation.count == 1, "RetinaNet needs the same number of anchors per location at every level")
    head = RetinaNetHead(
      channels: configuration.fpnChannels, anchorsPerLocation: perLocation.first!, classes: configuration.classes,
      priorProbability: configuration.priorProbability, norm: configuration.headNorm, generator: g)
    matcher = Matcher(
      highThreshold: configuration.foregroundIoU, lowThreshold: configuration.backgroundIoU,
      allowLowQualityMatches: configuration.allowLowQualityMatches)
    super.init()
  }

  public var hasMasks: Bool { false }

  /// Detections for `images` (each `[3, H, W]`, float in [0, 1]), in original image pixels:
  /// `boxes` `[N, 4]`, `scores` `[N]` and `labels` `[N]` (class indices, see the type's note).
  /// Runs without recording gradients; call `eval()` first so batch norms use their statistics.
  public func detect(_ images: [Tensor]) -> [Instances] {
    withNoGrad {
      let timer = OperationTimer.shared
      let transform = configuration.transform.forTesting(inference)
      let (batch, _) = timer.measure("transform") { transform(images) }
      let features = timer.measure("backbone") { backbone(batch.tensor) }
      let (logits, offsets) = timer.measure("head") { head(features) }
      let anchors = anchors(for: features, batch: batch)
      return timer.measure("postprocess") {
        (0..<images.count).map { i in
          let (boxes, scores, labels) = select(
            logits: fullPrecision(logits[i]), offsets: fullPrecision(offsets[i]), anchors: anchors,
            imageSize: batch.imageSizes[i])
          return Instances(
            imageSize: batch.originalSizes[i],
            fields: [
              "boxes": transform.boxesToOriginal(boxes, in: batch, index: i), "scores": scores, "labels": labels,
            ])
        }
      }
    }
  }

  /// The training losses for `images` and their `targets` (fields `boxes` in image pixels and
  /// `labels` in `0..<classes`): `classification` (focal loss) and `bbox_regression`, each summed
  /// over an image's anchors, divided by its foreground anchors, and averaged over the images.
  public func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor] {
    precondition(images.count == targets.count, "RetinaNet.losses needs one target per image")
    let timer = OperationTimer.shared
    let (batch, resizedTargets) = timer.measure("transform") {
      configuration.transform(images, targets: targets, generator: generator)
    }
    let features = timer.measure("backbone") { backbone(batch.tensor) }
    let (logits, offsets) = timer.measure("head") { head(features) }
    let anchors = Tensor.concatenate(anchors(for: features, batch: batch), axis: 0)
    var classification: [Tensor] = []
    var regression: [Tensor] = []
    for (i, target) in resizedTargets!.enumerated() {
      let groundTruth = target.boxes?.tensor ?? Tensor.zeros([0, 4], device: anchors.device)
      let labels = target["labels"] ?? Tensor.zeros([0], dtype: .int64, device: anchors.device)
      let matches = withNoGrad { match(anchors: anchors, groundTruth: groundTruth) }
      let foreground = (matches .>= 0).nonzeroIndices().reshaped([-1])
      let normalizer = Double(Swift.max(1, foreground.shape[0]))
      let imageLogits = fullPrecision(logits[i])
      let imageOffsets = fullPrecision(offsets[i])

      let classTargets = withNoGrad { oneHotTargets(matches: matches, labels: labels, like: imageLogits) }
      let counted = (matches .!= Matcher.betweenThresholds).nonzeroIndices().reshaped([-1])
      let focal = Functional.sigmoidFocalLoss(
        imageLogits.gathering(counted), targets: classTargets.gathering(counted), alpha: configuration.focalLossAlpha,
        gamma: configuration.focalLossGamma, reduction: .sum)
      classification.append(focal / normalizer)

      if foreground.shape[0] == 0 {
        // Keeps the branch in the graph with a zero loss, as torchvision's sum over no anchors.
        regression.append(imageOffsets.sum() * 0.0)
      } else {
        let matched = groundTruth.gathering(matches.gathering(foreground))
        let boxLoss = configuration.boxRegressionLoss.summed(
          predictions: imageOffsets.gathering(foreground), anchors: anchors.gathering(foreground), targets: matched,
          coder: coder)
        regression.append(boxLoss / normalizer)
      }
    }
    let imageCount = Double(images.count)
    return [
      "classification": classification.dropFirst().reduce(classification[0], +) / imageCount,
      "bbox_regression": regression.dropFirst().reduce(regression[0], +) / imageCount,
    ]
  }

  /// The anchors of every level, in float32 whatever the features' precision.
  private func anchors(for features: [Tensor], batch: ImageBatch) -> [Tensor] {
    anchorGenerator.anchors(
      imageSize: (batch.tensor.shape[2], batch.tensor.shape[3]), featureSizes: features.map { ($0.shape[2], $0.shape[3]) },
      dtype: .float32, device: features[0].device)
  }

  /// The matched ground-truth index of each anchor, or `Matcher.belowLowThreshold` /
  /// `Matcher.betweenThresholds`; all background for an image without objects.
  private func match(anchors: Tensor, groundTruth: Tensor) -> Tensor {
    guard groundTruth.shape[0] > 0 else {
      return Tensor.full([anchors.shape[0]], value: Matcher.belowLowThreshold, dtype: .int64, device: anchors.device)
    }
    return matcher(Boxes.iou(Boxes(groundTruth), Boxes(anchors)))
  }

  /// `[anchors, classes]` targets: 1 at the matched object's class of each foreground anchor.
  private func oneHotTargets(matches: Tensor, labels: Tensor, like logits: Tensor) -> Tensor {
    guard labels.shape[0] > 0 else { return logits.zerosLike() }
    let anchorLabels = labels.to(.int64).gathering(matches.clamped(min: 0))
    let classIndices = Tensor.arange(configuration.classes, dtype: .int64, device: logits.device)
    let isClass = anchorLabels.unsqueezed(axis: 1) .== classIndices.unsqueezed(axis: 0)
    return (isClass .&& (matches .>= 0).unsqueezed(axis: 1)).to(logits.dtype)
  }

  /// One image's detections in its resized pixels: per level, the best candidates decoded and
  /// clipped; then NMS per class and the best `detectionsPerImage`.
  private func select(logits: Tensor, offsets: Tensor, anchors: [Tensor], imageSize: (height: Int, width: Int)) -> (
    Tensor, Tensor, Tensor
  ) {
    var boxes: [Tensor] = []
    var scores: [Tensor] = []
    var labels: [Tensor] = []
    var start = 0
    for levelAnchors in anchors {
      let range = start..<(start + levelAnchors.shape[0])
      start = range.upperBound
      let candidates = topCandidates(
        scores: logits.sliced(axis: 0, range).sigmoid(), threshold: inference.scoreThreshold,
        limit: configuration.topCandidates)
      guard candidates.locations.shape[0] > 0 else { continue }
      let decoded = coder.decode(
        offsets.sliced(axis: 0, range).gathering(candidates.locations),
        references: levelAnchors.gathering(candidates.locations))
      boxes.append(Boxes(decoded).clipped(height: imageSize.height, width: imageSize.width).tensor)
      scores.append(candidates.scores)
      labels.append(candidates.labels)
    }
    guard !boxes.isEmpty else {
      let none = Tensor.zeros([0], dtype: .int64, device: logits.device)
      return (Tensor.zeros([0, 4], dtype: logits.dtype, device: logits.device), Tensor.zeros([0], dtype: logits.dtype, device: logits.device), none)
    }
    return mergeDetections(
      boxes: boxes, scores: scores, labels: labels, nmsThreshold: configuration.nmsThreshold,
      limit: inference.detectionsPerImage)
  }
}
