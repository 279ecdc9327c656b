import NN
import Torch

/// YOLOv3's training and selection (Redmon and Farhadi 2018, as mmdetection's `YOLOV3Head`):
/// anchors assigned by grid cell and IoU (`GridAssigner`), summed binary cross entropy for the
/// objectness, the classes and the box centre in its cell, squared error for the log box size;
/// at test, boxes of confident anchors ranked by class probability, scored by class probability
/// × objectness, and reduced by NMS within each class.
extension YOLOV3Head: DenseHead {
  public func detect(features: [Tensor], batch: ImageBatch, settings: InferenceSettings) -> [DenseDetections] {
    let timer = OperationTimer.shared
    let predictions = timer.measure("head") { Tensor.concatenate(self(features), axis: 1) }
    let (anchors, strides) = anchorsAndStrides(featureSizes: Self.sizes(of: features), device: features[0].device)
    return timer.measure("postprocess") {
      (0..<batch.imageSizes.count).map { i in
        select(
          predictions[i], anchors: anchors, strides: strides, resized: batch.imageSizes[i], original: batch.originalSizes[i],
          settings: settings)
      }
    }
  }

  /// The training losses for resized `targets` (fields `boxes` in the batch's pixels and
  /// `labels` in `0..<classes`), each summed over every anchor of every image and level, as
  /// mmdetection sums them over a GPU's images: `classification`, `objectness`, `box_center`
  /// and `box_size`, each times its weight.
  public func losses(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    let predictions = OperationTimer.shared.measure("head") { self(features) }
    return losses(predictions: predictions, featureSizes: Self.sizes(of: features), targets: targets)
  }

  /// The losses of `predictions` (per level, coarsest first, as `callAsFunction` gives them) on
  /// maps of `featureSizes` (height, width; finest first, as the features).
  func losses(predictions levelPredictions: [Tensor], featureSizes: [(height: Int, width: Int)], targets: [Instances]) -> [String: Tensor] {
    let predictions = Tensor.concatenate(levelPredictions, axis: 1)
    let (anchors, strides) = anchorsAndStrides(featureSizes: featureSizes, device: predictions.device)
    let (targetMaps, foreground, background) = withNoGrad { () -> (Tensor, Tensor, Tensor) in
      let perImage = targets.map { target in
        let groundTruth = target.boxes?.tensor.to(.float32) ?? Tensor.zeros([0, 4], device: anchors.device)
        let labels = target["labels"]?.to(.int64) ?? Tensor.zeros([0], dtype: .int64, device: anchors.device)
        return targetsOfImage(groundTruth: groundTruth, labels: labels, anchors: anchors, strides: strides, featureSizes: featureSizes)
      }
      return (Tensor.stack(perImage.map(\.0), axis: 0), Tensor.stack(perImage.map(\.1), axis: 0), Tensor.stack(perImage.map(\.2), axis: 0))
    }
    let positive = foreground.unsqueezed(axis: 2)
    // Objectness learns from foreground and background anchors, not the ignored ones.
    let counted = (foreground + background).clamped(min: 0, max: 1)
    func bce(_ logits: Tensor, _ goal: Tensor) -> Tensor {
      Functional.binaryCrossEntropyWithLogits(logits, targets: goal, reduction: .none)
    }
    let attributes = self.attributes
    let classLoss = (bce(predictions[.ellipsis, 5..<attributes], targetMaps[.ellipsis, 5..<attributes]) * positive).sum()
    let objectnessLoss = (bce(predictions[.ellipsis, 4], targetMaps[.ellipsis, 4]) * counted).sum()
    let centerLoss = (bce(predictions[.ellipsis, 0..<2], targetMaps[.ellipsis, 0..<2]) * positive).sum()
    let sizeError = predictions[.ellipsis, 2..<4] - targetMaps[.ellipsis, 2..<4]
    let sizeLoss = (sizeError * sizeError * positive).sum()
    return [
      "classification": classLoss * configuration.classLossWeight,
      "objectness": objectnessLoss * configuration.objectnessLossWeight,
      "box_center": centerLoss * configuration.centerLossWeight,
      "box_size": sizeLoss * configuration.sizeLossWeight,
    ]
  }

  /// Height and width of each map.
  static func sizes(of features: [Tensor]) -> [(height: Int, width: Int)] {
    features.map { ($0.shape[2], $0.shape[3]) }
  }

  /// The anchors `[P, 4]` of all levels, coarsest first as the predictions, and each anchor's
  /// stride `[P]`, in float32, for maps of `featureSizes` (finest first).
  func anchorsAndStrides(featureSizes: [(height: Int, width: Int)], device: Device) -> (anchors: Tensor, strides: Tensor) {
    var anchors: [Tensor] = []
    var strides: [Tensor] = []
    for (size, (level, sizes)) in zip(featureSizes, zip(levels, configuration.anchorSizes)).reversed() {
      let levelAnchors = YOLOBoxCoder.anchors(
        sizes: sizes, stride: level.stride, height: size.height, width: size.width, device: device)
      anchors.append(levelAnchors)
      strides.append(Tensor.full([levelAnchors.shape[0]], value: Double(level.stride), device: device))
    }
    return (Tensor.concatenate(anchors, axis: 0), Tensor.concatenate(strides, axis: 0))
  }

  /// Whether each anchor (coarsest level first) lies in a cell holding a ground truth's centre.
  /// A centre on the padded image's far edge counts in the last cell (mmdetection would index past
  /// the grid).
  func responsibleAnchors(groundTruth: Tensor, featureSizes: [(height: Int, width: Int)]) -> Tensor {
    let centres = (groundTruth[.all, 0..<2] + groundTruth[.all, 2..<4]) * 0.5
    let device = groundTruth.device
    var flags: [Tensor] = []
    for (size, level) in zip(featureSizes, levels).reversed() {
      let (height, width) = size
      let cells = Tensor.zeros([height * width], device: device)
      if groundTruth.shape[0] > 0 {
        let grid = (centres / Double(level.stride)).floor().to(.int64)
        let x = grid[.all, 0].clamped(min: 0, max: width - 1)
        let y = grid[.all, 1].clamped(min: 0, max: height - 1)
        cells.put(Tensor.ones([groundTruth.shape[0]], device: device), at: y * width + x)
      }
      let anchorsHere = configuration.anchorsPerLocation
      flags.append(cells.unsqueezed(axis: 1).expanded(to: [height * width, anchorsHere]).reshaped([-1]) .> 0)
    }
    return Tensor.concatenate(flags, axis: 0)
  }

  /// One image's target map `[P, 5 + classes]` (box targets, objectness 1 and class targets at
  /// foreground anchors), and its foreground and background masks `[P]` as float.
  func targetsOfImage(
    groundTruth: Tensor, labels: Tensor, anchors: Tensor, strides: Tensor, featureSizes: [(height: Int, width: Int)]
  ) -> (Tensor, Tensor, Tensor) {
    let assigner = GridAssigner(
      foregroundIoU: configuration.foregroundIoU, backgroundIoU: configuration.backgroundIoU,
      minForegroundIoU: configuration.minForegroundIoU)
    let responsible = responsibleAnchors(groundTruth: groundTruth, featureSizes: featureSizes)
    let assigned = assigner(anchors: anchors, responsible: responsible, groundTruth: groundTruth)
    let foreground = assigned .>= 0
    let map = Tensor.zeros([anchors.shape[0], attributes], device: anchors.device)
    let positives = foreground.nonzeroIndices().reshaped([-1])
    if positives.shape[0] > 0 {
      let matched = assigned.gathering(positives)
      let boxes = YOLOBoxCoder.encode(
        groundTruth.gathering(matched), anchors: anchors.gathering(positives), strides: strides.gathering(positives))
      let classIndices = Tensor.arange(classes, dtype: .int64, device: anchors.device).unsqueezed(axis: 0)
      var oneHot = (labels.gathering(matched).unsqueezed(axis: 1) .== classIndices).to(.float32)
      let smoothing = configuration.labelSmoothing
      if smoothing != 0 { oneHot = oneHot * (1 - smoothing) + smoothing / Double(classes) }
      let objectness = Tensor.ones([positives.shape[0], 1], device: anchors.device)
      map.put(Tensor.concatenate([boxes, objectness, oneHot], axis: 1), at: positives)
    }
    return (map, foreground.to(.float32), (assigned .== GridAssigner.background).to(.float32))
  }

  /// One image's detections in its resized pixels, best first: anchors whose objectness reaches
  /// `objectnessThreshold`, their (anchor, class) pairs above the score threshold ranked by class
  /// probability (the best `topCandidates`), decoded, scored by class probability × objectness,
  /// boxes no larger than `minBoxSize` dropped, then NMS per class and the best
  /// `detectionsPerImage`. Boxes are not clipped to the image (mmdetection's YOLOv3 leaves them).
  private func select(
    _ predictions: Tensor, anchors: Tensor, strides: Tensor, resized: (height: Int, width: Int),
    original: (height: Int, width: Int), settings: InferenceSettings
  ) -> DenseDetections {
    var candidates = Tensor.arange(predictions.shape[0], dtype: .int64, device: predictions.device)
    let objectness = predictions[.all, 4].sigmoid()
    if configuration.objectnessThreshold > 0 {
      candidates = (objectness .>= configuration.objectnessThreshold).nonzeroIndices().reshaped([-1])
    }
    let kept = predictions.gathering(candidates)
    let best = topCandidates(
      scores: kept[.all, 5..<attributes].sigmoid(), threshold: settings.scoreThreshold, limit: configuration.topCandidates)
    guard best.locations.shape[0] > 0 else { return noDetections(like: predictions) }
    let chosen = candidates.gathering(best.locations)
    let raw = predictions.gathering(chosen)
    let coded = Tensor.concatenate([raw[.all, 0..<2].sigmoid(), raw[.all, 2..<4]], axis: 1)
    let boxes = YOLOBoxCoder.decode(coded, anchors: anchors.gathering(chosen), strides: strides.gathering(chosen).unsqueezed(axis: 1))
    let scores = best.scores * objectness.gathering(chosen)
    // mmdetection compares sizes in original pixels.
    let widthScale = Double(original.width) / Double(resized.width)
    let heightScale = Double(original.height) / Double(resized.height)
    let large =
      ((boxes[.all, 2] - boxes[.all, 0]) * widthScale .> configuration.minBoxSize)
      .&& ((boxes[.all, 3] - boxes[.all, 1]) * heightScale .> configuration.minBoxSize)
    let keep = large.nonzeroIndices().reshaped([-1])
    guard keep.shape[0] > 0 else { return noDetections(like: predictions) }
    return mergeDetections(
      boxes: [boxes.gathering(keep)], scores: [scores.gathering(keep)], labels: [best.labels.gathering(keep)],
      nmsThreshold: configuration.nmsThreshold, method: settings.nms, limit: settings.detectionsPerImage)
  }
}
