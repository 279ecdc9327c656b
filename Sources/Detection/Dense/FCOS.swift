import NN
import Torch

/// The FCOS head's settings (the `fcos` dense head kind). The defaults are torchvision's
/// `fcos_resnet50_fpn`.
///
/// Labels: as RetinaNet, FCOS has no background class; `labels` index the `classes` sigmoid
/// outputs directly, `0..<classes`, and torchvision's COCO models use the 91 COCO category ids
/// (see `RetinaNetHeadConfiguration`).
public struct FCOSHeadConfiguration: Codable, Equatable, Sendable {
  /// The side of the one square anchor per location at each level P3–P7, equal to the level's
  /// stride; it is the unit of the regressed distances and of the ranges below.
  public var anchorSizes: [Double] = [8, 16, 32, 64, 128]
  /// A location is a candidate for an object when its centre lies within this many anchor sizes
  /// of the object's centre (and inside the box).
  public var centerSamplingRadius = 1.5
  /// A level takes the objects whose largest centre-to-edge distance, from a location, lies
  /// between these multiples of its anchor size (the finest level has no lower bound, the
  /// coarsest no upper one): 4 and 8 give torchvision's ranges 0–64–128–256–512–∞ pixels.
  public var regressionRangeLower = 4.0
  public var regressionRangeUpper = 8.0
  public var focalLossAlpha = 0.25
  public var focalLossGamma = 2.0
  /// The initial foreground probability the classification bias encodes.
  public var priorProbability = 0.01
  /// Normalisation in the head's convolution towers (group norm with 32 groups in torchvision).
  public var norm = NormKind.groupNorm
  /// Activation checkpointing in training: each tower block (convolution, norm, ReLU) keeps only
  /// its input and runs again in backward.
  public var checkpoint = false
  /// Detections scoring below this (√(class probability × centerness)) are dropped before ranking.
  public var scoreThreshold = 0.2
  /// Candidates kept per level before NMS.
  public var topCandidates = 1000
  public var nmsThreshold = 0.6
  public var detectionsPerImage = 100

  public init() {}
}

/// FCOS's training and selection (Tian et al. 2019, "Fully Convolutional One-Stage Object
/// Detection"): an anchor-free head that predicts, at every location of every level, class
/// probabilities, the distances to the four edges of the object's box, and a centerness that
/// down-weights locations far from the object's centre. Trained with the focal loss, a GIoU box
/// loss and a binary cross entropy on the centerness.
extension FCOSHead: DenseHead {
  public func detect(features: [Tensor], batch: ImageBatch, settings: InferenceSettings) -> [DenseDetections] {
    let timer = OperationTimer.shared
    let outputs = timer.measure("head") { self(features) }
    let anchors = anchors(for: features, batch: batch)
    return timer.measure("postprocess") {
      (0..<batch.imageSizes.count).map { i in
        select(
          logits: fullPrecision(outputs.logits[i]), distances: fullPrecision(outputs.distances[i]),
          centerness: fullPrecision(outputs.centerness[i]), anchors: anchors, imageSize: batch.imageSizes[i],
          settings: settings)
      }
    }
  }

  /// The training losses for resized `targets` (fields `boxes` in the batch's pixels and
  /// `labels` in `0..<classes`): `classification` (focal loss over all locations),
  /// `bbox_regression` (GIoU over foreground locations) and `bbox_ctrness` (binary cross entropy
  /// of the centerness over foreground locations), each summed over the batch and divided by the
  /// batch's number of foreground locations, as torchvision does.
  public func losses(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    lossesAndClassLogits(features: features, batch: batch, targets: targets).0
  }
}

extension FCOSHead: ClassLogitsHead {
  public func classLogits(features: [Tensor]) -> Tensor { classificationHead(features) }

  public func lossesAndClassLogits(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> ([String: Tensor], Tensor) {
    let outputs = OperationTimer.shared.measure("head") { self(features) }
    let levelAnchors = anchors(for: features, batch: batch)
    let anchors = Tensor.concatenate(levelAnchors, axis: 0)
    var classification: [Tensor] = []
    var regression: [Tensor] = []
    var centerness: [Tensor] = []
    var foregroundCount = 0
    for (i, target) in targets.enumerated() {
      let groundTruth = target.boxes?.tensor ?? Tensor.zeros([0, 4], device: anchors.device)
      let labels = target["labels"] ?? Tensor.zeros([0], dtype: .int64, device: anchors.device)
      let matches = withNoGrad {
        match(anchors: anchors, levelSizes: levelAnchors.map { $0.shape[0] }, groundTruth: groundTruth)
      }
      let foreground = (matches .>= 0).nonzeroIndices().reshaped([-1])
      foregroundCount += foreground.shape[0]
      let imageLogits = fullPrecision(outputs.logits[i])
      let imageDistances = fullPrecision(outputs.distances[i])
      let imageCenterness = fullPrecision(outputs.centerness[i])

      let classTargets = withNoGrad { oneHotTargets(matches: matches, labels: labels, like: imageLogits) }
      classification.append(
        Functional.sigmoidFocalLoss(
          imageLogits, targets: classTargets, alpha: configuration.focalLossAlpha, gamma: configuration.focalLossGamma,
          reduction: .sum))

      if foreground.shape[0] == 0 {
        // Keeps both branches in the graph with zero losses, as torchvision's sums over no locations.
        regression.append(imageDistances.sum() * 0.0)
        centerness.append(imageCenterness.sum() * 0.0)
        continue
      }
      let matched = groundTruth.gathering(matches.gathering(foreground))
      let foregroundAnchors = anchors.gathering(foreground)
      let predicted = coder.decode(imageDistances.gathering(foreground), references: foregroundAnchors)
      regression.append(generalizedIoULoss(predicted, matched).sum())
      let centernessTargets = withNoGrad { Self.centerness(of: coder.encode(matched, references: foregroundAnchors)) }
      centerness.append(
        Functional.binaryCrossEntropyWithLogits(
          imageCenterness.gathering(foreground), targets: centernessTargets, reduction: .sum))
    }
    let normalizer = Double(Swift.max(1, foregroundCount))
    let losses: [String: Tensor] = [
      "classification": classification.dropFirst().reduce(classification[0], +) / normalizer,
      "bbox_regression": regression.dropFirst().reduce(regression[0], +) / normalizer,
      "bbox_ctrness": centerness.dropFirst().reduce(centerness[0], +) / normalizer,
    ]
    return (losses, outputs.logits)
  }
}

extension FCOSHead {

  /// The centerness target of edge distances `[N, 4]`: √(min(l, r)/max(l, r) · min(t, b)/max(t, b)).
  static func centerness(of distances: Tensor) -> Tensor {
    let leftRight = Tensor.stack([distances[.all, 0], distances[.all, 2]], axis: 1)
    let topBottom = Tensor.stack([distances[.all, 1], distances[.all, 3]], axis: 1)
    let horizontal = leftRight.min(axes: [1]) / leftRight.max(axes: [1])
    let vertical = topBottom.min(axes: [1]) / topBottom.max(axes: [1])
    return (horizontal * vertical).sqrt()
  }

  /// The anchors of every level, in float32 whatever the features' precision.
  private func anchors(for features: [Tensor], batch: ImageBatch) -> [Tensor] {
    anchorGenerator.anchors(
      imageSize: (batch.tensor.shape[2], batch.tensor.shape[3]), featureSizes: features.map { ($0.shape[2], $0.shape[3]) },
      dtype: .float32, device: features[0].device)
  }

  /// The ground-truth index each location is assigned to, or -1 (torchvision's
  /// `FCOS.compute_loss` matching): a location matches an object when its centre lies inside the
  /// box and within `centerSamplingRadius` anchor sizes of the box's centre, and its largest
  /// distance to the box's edges falls in its level's regression range; among several, the
  /// smallest object wins.
  private func match(anchors: Tensor, levelSizes: [Int], groundTruth gt: Tensor) -> Tensor {
    let count = anchors.shape[0]
    guard gt.shape[0] > 0 else {
      return Tensor.full([count], value: -1, dtype: .int64, device: anchors.device)
    }
    let gtCenters = (gt[.all, 0..<2] + gt[.all, 2..<4]) / 2
    let anchorCenters = (anchors[.all, 0..<2] + anchors[.all, 2..<4]) / 2
    let anchorSizes = anchors[.all, 2] - anchors[.all, 0]
    let centerOffsets = (anchorCenters.unsqueezed(axis: 1) - gtCenters.unsqueezed(axis: 0)).abs().max(axes: [2])
    var matches = centerOffsets .< (anchorSizes * configuration.centerSamplingRadius).unsqueezed(axis: 1)

    let x = anchorCenters[.all, 0].unsqueezed(axis: 1)
    let y = anchorCenters[.all, 1].unsqueezed(axis: 1)
    let (x0, y0) = (gt[.all, 0].unsqueezed(axis: 0), gt[.all, 1].unsqueezed(axis: 0))
    let (x1, y1) = (gt[.all, 2].unsqueezed(axis: 0), gt[.all, 3].unsqueezed(axis: 0))
    let edgeDistances = Tensor.stack([x - x0, y - y0, x1 - x, y1 - y], axis: 2)
    matches = matches .&& (edgeDistances.min(axes: [2]) .> 0)

    let first = levelSizes[0]
    let last = levelSizes[levelSizes.count - 1]
    let lower = Tensor.concatenate(
      [Tensor.zeros([first], device: anchors.device), anchorSizes[first...] * configuration.regressionRangeLower], axis: 0)
    let upper = Tensor.concatenate(
      [anchorSizes[..<(count - last)] * configuration.regressionRangeUpper, Tensor.full([last], value: Double.infinity, device: anchors.device)], axis: 0)
    let largest = edgeDistances.max(axes: [2])
    matches = matches .&& (largest .> lower.unsqueezed(axis: 1)) .&& (largest .< upper.unsqueezed(axis: 1))

    // Prefer the smallest object: weight each match by 1e8 minus the object's area, in float32
    // as torchvision (areas closer than float32's spacing near 1e8 tie, broken by libtorch's max).
    let areas = (gt[.all, 2] - gt[.all, 0]) * (gt[.all, 3] - gt[.all, 1])
    let weighted = matches.to(.float32) * (1e8 - areas.to(.float32)).unsqueezed(axis: 0)
    let (best, index) = weighted.max(axis: 1)
    index.fill(where: best .< 1e-5, with: -1)
    return index
  }

  /// `[locations, classes]` targets: 1 at the matched object's class of each foreground location.
  private func oneHotTargets(matches: Tensor, labels: Tensor, like logits: Tensor) -> Tensor {
    guard labels.shape[0] > 0 else { return logits.zerosLike() }
    let locationLabels = labels.to(.int64).gathering(matches.clamped(min: 0))
    let classIndices = Tensor.arange(classes, dtype: .int64, device: logits.device)
    let isClass = locationLabels.unsqueezed(axis: 1) .== classIndices.unsqueezed(axis: 0)
    return (isClass .&& (matches .>= 0).unsqueezed(axis: 1)).to(logits.dtype)
  }

  /// One image's detections in its resized pixels: per level, the best candidates by
  /// √(class probability × centerness), decoded and clipped; then NMS per class and the best
  /// `detectionsPerImage`.
  private func select(
    logits: Tensor, distances: Tensor, centerness: Tensor, anchors: [Tensor], imageSize: (height: Int, width: Int),
    settings: InferenceSettings
  ) -> DenseDetections {
    var boxes: [Tensor] = []
    var scores: [Tensor] = []
    var labels: [Tensor] = []
    var start = 0
    for levelAnchors in anchors {
      let range = start..<(start + levelAnchors.shape[0])
      start = range.upperBound
      let probabilities = logits.sliced(axis: 0, range).sigmoid()
      let levelCenterness = centerness.sliced(axis: 0, range).sigmoid().unsqueezed(axis: 1)
      let candidates = topCandidates(
        scores: (probabilities * levelCenterness).sqrt(), threshold: settings.scoreThreshold,
        limit: configuration.topCandidates)
      guard candidates.locations.shape[0] > 0 else { continue }
      let decoded = coder.decode(
        distances.sliced(axis: 0, range).gathering(candidates.locations),
        references: levelAnchors.gathering(candidates.locations))
      boxes.append(Boxes(decoded).clipped(height: imageSize.height, width: imageSize.width).tensor)
      scores.append(candidates.scores)
      labels.append(candidates.labels)
    }
    guard !boxes.isEmpty else { return noDetections(like: logits) }
    return mergeDetections(
      boxes: boxes, scores: scores, labels: labels, nmsThreshold: configuration.nmsThreshold, method: settings.nms,
      limit: settings.detectionsPerImage)
  }
}

