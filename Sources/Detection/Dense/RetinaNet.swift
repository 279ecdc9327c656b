import NN
import Torch

/// The RetinaNet head's settings (the `retinanet` dense head kind). The defaults are
/// torchvision's `retinanet_resnet50_fpn`.
///
/// Labels: RetinaNet has no background class. Its `classes` sigmoid outputs are indexed by the
/// targets' `labels` directly, `0..<classes`, as in torchvision. torchvision's COCO models use the
/// 91 COCO category ids as indices (index 0 and the unused ids are never positive), so datasets
/// that give labels `1..<classes` with 0 meaning background, as for Faster R-CNN, work unchanged
/// with the same `classes`; output 0 then stays unused.
public struct RetinaNetHeadConfiguration: Codable, Equatable, Sendable {
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
  @Nullable public var norm: NormKind? = nil
  /// Give each pyramid level its own norms in the towers while the convolutions stay shared
  /// (mmdetection's `RetinaSepBNHead`, NAS-FPN's RetinaNet: `norm_per_level: true` with
  /// `norm: BN`); false shares the norms too, as torchvision does. Needs a `norm`.
  public var normPerLevel = false
  /// Activation checkpointing in training: each tower block keeps only its input and runs again
  /// in backward.
  public var checkpoint = false
  /// Detections scoring below this are dropped before ranking.
  public var scoreThreshold = 0.05
  /// Candidates kept per level before NMS.
  public var topCandidates = 1000
  public var nmsThreshold = 0.5
  public var detectionsPerImage = 300

  public init() {}
}

/// RetinaNet's training and selection (Lin et al. 2017, "Focal Loss for Dense Object Detection"):
/// a head shared across pyramid levels predicts class probabilities and box offsets for every
/// anchor, trained with the focal loss.
extension RetinaNetHead: DenseHead {
  public func detect(features: [Tensor], batch: ImageBatch, settings: InferenceSettings) -> [DenseDetections] {
    let timer = OperationTimer.shared
    let (logits, offsets) = timer.measure("head") { self(features) }
    let anchors = anchors(for: features, batch: batch)
    return timer.measure("postprocess") {
      (0..<batch.imageSizes.count).map { i in
        select(
          logits: fullPrecision(logits[i]), offsets: fullPrecision(offsets[i]), anchors: anchors,
          imageSize: batch.imageSizes[i], settings: settings)
      }
    }
  }

  /// The training losses for resized `targets` (fields `boxes` in the batch's pixels and
  /// `labels` in `0..<classes`): `classification` (focal loss) and `bbox_regression`, each summed
  /// over an image's anchors, divided by its foreground anchors, and averaged over the images.
  public func losses(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    lossesAndClassLogits(features: features, batch: batch, targets: targets).0
  }
}

extension RetinaNetHead: ClassLogitsHead {
  public func classLogits(features: [Tensor]) -> Tensor { classificationHead(features) }

  public func lossesAndClassLogits(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> ([String: Tensor], Tensor) {
    let (logits, offsets) = OperationTimer.shared.measure("head") { self(features) }
    let anchors = Tensor.concatenate(anchors(for: features, batch: batch), axis: 0)
    var classification: [Tensor] = []
    var regression: [Tensor] = []
    for (i, target) in targets.enumerated() {
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
    let imageCount = Double(targets.count)
    let losses: [String: Tensor] = [
      "classification": classification.dropFirst().reduce(classification[0], +) / imageCount,
      "bbox_regression": regression.dropFirst().reduce(regression[0], +) / imageCount,
    ]
    return (losses, logits)
  }
}

extension RetinaNetHead {

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
    let classIndices = Tensor.arange(classes, dtype: .int64, device: logits.device)
    let isClass = anchorLabels.unsqueezed(axis: 1) .== classIndices.unsqueezed(axis: 0)
    return (isClass .&& (matches .>= 0).unsqueezed(axis: 1)).to(logits.dtype)
  }

  /// One image's detections in its resized pixels: per level, the best candidates decoded and
  /// clipped; then NMS per class and the best `detectionsPerImage`.
  private func select(
    logits: Tensor, offsets: Tensor, anchors: [Tensor], imageSize: (height: Int, width: Int), settings: InferenceSettings
  ) -> DenseDetections {
    var boxes: [Tensor] = []
    var scores: [Tensor] = []
    var labels: [Tensor] = []
    var start = 0
    for levelAnchors in anchors {
      let range = start..<(start + levelAnchors.shape[0])
      start = range.upperBound
      let candidates = topCandidates(
        scores: logits.sliced(axis: 0, range).sigmoid(), threshold: settings.scoreThreshold,
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
      return noDetections(like: logits)
    }
    return mergeDetections(
      boxes: boxes, scores: scores, labels: labels, nmsThreshold: configuration.nmsThreshold, method: settings.nms,
      limit: settings.detectionsPerImage)
  }
}
