import NN
import Torch

/// What a two-stage detector's RoI heads do, whatever their kind (standard, cascade): detect
/// from proposals at test time, and return their losses when training.
public protocol SecondStage: Module {
  /// Classes including background.
  var classes: Int { get }
  /// Whether detections carry masks and training needs them.
  var hasMasks: Bool { get }
  /// Detections per image in the resized images' pixels; nil settings take the heads' own.
  func detect(
    features: [Tensor], proposals: [Proposals], images: ImageBatch, scoreThreshold: Double?, detectionsPerImage: Int?,
    nms: NMSMethod?
  ) -> [Instances]
  /// The losses by name, for targets already resized into `images`.
  func learn(features: [Tensor], proposals: [Proposals], images: ImageBatch, targets: [Instances]) -> [String: Tensor]
}

/// The RoIs one stage trains on, per image: candidates sampled from the proposals and the ground
/// truth, their class labels (0 background), matched ground-truth indices, and box targets.
struct RoISamples {
  var boxes: [Tensor]
  var labels: [Tensor]
  var matches: [Tensor]
  var regressionTargets: [Tensor]
}

/// Samples each image's proposals, with its ground-truth boxes added so every object has a
/// perfect sample, labelled by `matcher` and encoded by `coder` (no gradients).
func sampleProposals(
  _ proposals: [Tensor], targets: [Instances], matcher: Matcher, sampler: BalancedSampler, coder: BoxCoder
) -> RoISamples {
  var samples = RoISamples(boxes: [], labels: [], matches: [], regressionTargets: [])
  withNoGrad {
    for (boxes, target) in zip(proposals, targets) {
      let gtBoxes = target.boxes?.tensor ?? Tensor.zeros([0, 4], dtype: boxes.dtype, device: boxes.device)
      let gtLabels = target["labels"] ?? Tensor.zeros([0], dtype: .int64, device: boxes.device)
      let candidates = Tensor.concatenate([boxes, gtBoxes.to(boxes.dtype)], axis: 0)
      var (labels, matched, matchIndex) = assignLabels(candidates, gtBoxes: gtBoxes, gtLabels: gtLabels, matcher: matcher)
      if let ignored = target.ignoredBoxes {
        labels = ignoringOverlaps(labels: labels, candidates: candidates, ignored: ignored, threshold: matcher.lowThreshold)
      }
      let (positive, negative) = sampler(labels)
      let keep = (positive .|| negative).nonzeroIndices().reshaped([-1])
      samples.boxes.append(candidates.gathering(keep))
      samples.labels.append(labels.gathering(keep))
      samples.matches.append(matchIndex.gathering(keep))
      samples.regressionTargets.append(coder.encode(matched.gathering(keep), references: candidates.gathering(keep)))
    }
  }
  return samples
}

/// `labels` (0 background, -1 ignored) with the background candidates that overlap one of the
/// `ignored` regions by at least `threshold` IoU marked ignored: they are neither foreground
/// (no object of this target) nor background (an object is there).
func ignoringOverlaps(labels: Tensor, candidates: Tensor, ignored: Tensor, threshold: Double) -> Tensor {
  guard ignored.shape[0] > 0, candidates.shape[0] > 0 else { return labels }
  let (overlap, _) = Boxes.iou(Boxes(ignored.to(candidates.dtype)), Boxes(candidates)).max(axis: 0)
  return labels.filling(where: (labels .== 0) .&& (overlap .>= threshold), with: -1)
}

/// Class labels (0 background, -1 ignored), matched boxes and matched ground-truth indices
/// (clamped to 0 for unmatched candidates) of one image's candidates.
func assignLabels(_ candidates: Tensor, gtBoxes: Tensor, gtLabels: Tensor, matcher: Matcher) -> (Tensor, Tensor, Tensor) {
  guard gtBoxes.shape[0] > 0 else {
    let zeros = Tensor.zeros([candidates.shape[0]], dtype: .int64, device: candidates.device)
    return (zeros, candidates.zerosLike(), zeros)
  }
  let matches = matcher(Boxes.iou(Boxes(gtBoxes.to(candidates.dtype)), Boxes(candidates)))
  let clamped = matches.clamped(min: 0)
  var labels = gtLabels.gathering(clamped).to(.int64)
  labels = labels.filling(where: matches .== Matcher.belowLowThreshold, with: 0)
  labels = labels.filling(where: matches .== Matcher.betweenThresholds, with: -1)
  return (labels, gtBoxes.to(candidates.dtype).gathering(clamped), clamped)
}

/// Per-image detections from every RoI's per-class boxes `[N, classes, 4]` and class
/// probabilities `[N, classes]` (all images' RoIs, `counts` per image): background dropped,
/// boxes clipped, low scores and tiny boxes dropped, `nms` within each class, the best
/// `detectionsPerImage` kept (torchvision's `postprocess_detections`).
func selectDetections(
  boxes decoded: Tensor, probabilities: Tensor, counts: [Int], images: ImageBatch, scoreThreshold: Double,
  minSize: Double, detectionsPerImage: Int, nms: NMSMethod
) -> [Instances] {
  let classes = probabilities.shape[1]
  let boxesPerImage = decoded.split(sizes: counts, axis: 0)
  let scoresPerImage = probabilities.split(sizes: counts, axis: 0)
  var results: [Instances] = []
  for (i, (boxes, scores)) in zip(boxesPerImage, scoresPerImage).enumerated() {
    let size = images.imageSizes[i]
    let n = boxes.shape[0]
    // Per-class candidates, background (class 0) removed.
    let clipped = Boxes(boxes.reshaped([-1, 4])).clipped(height: size.height, width: size.width).tensor
      .reshaped([n, classes, 4])[.all, 1...].reshaped([-1, 4])
    let classScores = scores[.all, 1...].reshaped([-1])
    let labels = Tensor.arange(1, classes, dtype: .int64, device: boxes.device).reshaped([1, -1])
      .expanded(to: [n, classes - 1]).reshaped([-1])
    let candidates = ((classScores .> scoreThreshold) .&& Boxes(clipped).hasSize(atLeast: minSize))
      .nonzeroIndices().reshaped([-1])
    let keptBoxes = clipped.gathering(candidates)
    let keptScores = classScores.gathering(candidates)
    let keptLabels = labels.gathering(candidates)
    let reduced = nms.apply(boxes: keptBoxes, scores: keptScores, groups: keptLabels)
    let top = Swift.min(detectionsPerImage, reduced.indices.shape[0])
    results.append(
      Instances(
        imageSize: size,
        fields: [
          "boxes": reduced.boxes[..<top], "scores": reduced.scores[..<top],
          "labels": keptLabels.gathering(reduced.indices[..<top]),
        ]))
  }
  return results
}

/// RoI heads with Mask R-CNN's branch (`mask_head`, `mask_predictor` in state dicts; nil for
/// box-only heads).
protocol MaskBranchHolder {
  /// Whether training recomputes the heads in backward (`checkpoint` in the RoI heads' settings).
  var checkpointsHeads: Bool { get }
  var maskPooler: MultiScaleRoIAlign? { get }
  var maskHead: MaskRCNNHeads? { get }
  var maskPredictor: MaskRCNNPredictor? { get }
}

/// Mask R-CNN's branch for `mask` (all nil without one): its pooler, head and predictor, for RoI
/// heads of any kind.
func makeMaskBranch(
  _ mask: MaskHeadConfiguration?, channels: Int, classes: Int, aligned: Bool, generator: Generator
) -> (MultiScaleRoIAlign?, MaskRCNNHeads?, MaskRCNNPredictor?) {
  guard let mask else { return (nil, nil, nil) }
  return (
    MultiScaleRoIAlign(outputSize: (mask.resolution, mask.resolution), samplingRatio: mask.samplingRatio, aligned: aligned),
    MaskRCNNHeads(channels: channels, configuration: mask, generator: generator),
    MaskRCNNPredictor(
      inputChannels: mask.convolutions.last ?? channels, reducedChannels: mask.predictorChannels, classes: classes,
      generator: generator)
  )
}

extension MaskBranchHolder {
  /// Adds `masks` `[N, 1, M, M]` (probabilities for each detection's class, in its box) to each
  /// image's detections (torchvision's `maskrcnn_inference`).
  func predictMasks(features: [Tensor], detections: [Instances], images: ImageBatch) -> [Instances] {
    guard let maskPooler, let maskHead, let maskPredictor else { return detections }
    return addingMasks(
      to: detections, features: features, images: images, pooler: maskPooler, branches: [(maskHead, maskPredictor)])
  }

  /// Mask R-CNN's loss on the positive sampled RoIs of each image.
  func maskLoss(
    features: [Tensor], boxes: [Tensor], labels: [Tensor], matches: [Tensor], images: ImageBatch, targets: [Instances]
  ) -> Tensor {
    guard let maskPooler, let maskHead, let maskPredictor else { preconditionFailure("no mask branch") }
    return maskBranchLoss(
      features: features, samples: RoISamples(boxes: boxes, labels: labels, matches: matches, regressionTargets: []),
      images: images, targets: targets, pooler: maskPooler, head: maskHead, predictor: maskPredictor,
      checkpoint: checkpointsHeads)
  }
}

/// Adds `masks` `[N, 1, M, M]` to each image's detections: for each detection's class, the sigmoid
/// probabilities of one mask head and predictor (torchvision's `maskrcnn_inference`), or the mean
/// of several run on the same pooled features (mmdetection's Cascade Mask R-CNN, whose
/// `merge_aug_masks` averages the stages' probabilities).
func addingMasks(
  to detections: [Instances], features: [Tensor], images: ImageBatch, pooler: MultiScaleRoIAlign,
  branches: [(MaskRCNNHeads, MaskRCNNPredictor)]
) -> [Instances] {
  precondition(!branches.isEmpty, "no mask branch")
  let boxes = detections.map { $0.boxes!.tensor }
  let pooled = pooler(features, boxes: boxes, images: images)
  let labels = Tensor.concatenate(detections.map { $0["labels"]! }, axis: 0)
  let rows = Tensor.arange(0, labels.shape[0], dtype: .int64, device: pooled.device)
  let perBranch = branches.map { head, predictor in predictor(head(pooled)).sigmoid()[rows, labels].unsqueezed(axis: 1) }
  let probabilities = perBranch.count == 1 ? perBranch[0] : perBranch.dropFirst().reduce(perBranch[0], +) / Double(perBranch.count)
  let perImage = probabilities.split(sizes: boxes.map { $0.shape[0] }, axis: 0)
  return zip(detections, perImage).map { d, masks in
    Instances(imageSize: d.imageSize, fields: d.fields.merging(["masks": masks]) { $1 })
  }
}

/// Mask R-CNN's loss for one mask head and predictor on the positive RoIs of `samples` (their
/// boxes, labels and matched ground-truth indices) of each image.
func maskBranchLoss(
  features: [Tensor], samples: RoISamples, images: ImageBatch, targets: [Instances], pooler: MultiScaleRoIAlign,
  head: MaskRCNNHeads, predictor: MaskRCNNPredictor, checkpoint: Bool = false
) -> Tensor {
  let (boxes, labels, matches) = (samples.boxes, samples.labels, samples.matches)
  let m = 2 * pooler.outputSize.0
  var positiveBoxes: [Tensor] = []
  var positiveLabels: [Tensor] = []
  var maskTargets: [Tensor] = []
  withNoGrad {
    for i in boxes.indices {
      guard let gtMasks = targets[i]["masks"] else {
        preconditionFailure("Mask R-CNN needs a `masks` field [N, H, W] in every target")
      }
      let positive = (labels[i] .> 0).nonzeroIndices().reshaped([-1])
      let b = boxes[i].gathering(positive)
      positiveBoxes.append(b)
      positiveLabels.append(labels[i].gathering(positive))
      maskTargets.append(
        gtMasks.shape[0] == 0
          ? Tensor.zeros([0, m, m], dtype: b.dtype, device: b.device)
          : MaskOperations.targets(masks: gtMasks, boxes: b, matched: matches[i].gathering(positive), size: m))
    }
  }
  let pooled = pooler(features, boxes: positiveBoxes, images: images)
  let logits = predictor(head(pooled, checkpointing: checkpoint))
  return MaskOperations.loss(
    logits: logits, labels: Tensor.concatenate(positiveLabels, axis: 0), targets: Tensor.concatenate(maskTargets, axis: 0))
}
