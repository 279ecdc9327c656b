import Torch

/// What TridentNet's branches (Li et al. 2019) change in a two-stage detector: the backbone's
/// maps hold every image once per branch (branch-major along the batch axis), so the RPN and
/// the RoI heads see a batch of `branches × N` images. Each branch's copy of an image gets
/// that branch's targets in scale-aware training, and at test time the branches' detections of
/// an image are merged by one more NMS (mmdetection's `TridentRoIHead`).
struct TridentBranching {
  let branches: Int
  /// Scale-aware training's range per branch (nil: every object trains every branch).
  let ranges: [ClosedRange<Double>]?

  init(branches: Int, configuration: TridentConfiguration?) {
    self.branches = branches
    let ranges = (0..<branches).compactMap { configuration?.range(ofBranch: $0) }
    self.ranges = ranges.count == branches && branches > 1 ? ranges : nil
  }

  /// The batch with each image's sizes repeated once per branch. The image tensor itself is
  /// kept (the RPN reads only its padded height and width).
  func replicated(_ batch: ImageBatch) -> ImageBatch {
    var out = batch
    out.imageSizes = Array([[(height: Int, width: Int)]](repeating: batch.imageSizes, count: branches).joined())
    out.originalSizes = Array([[(height: Int, width: Int)]](repeating: batch.originalSizes, count: branches).joined())
    return out
  }

  /// Each image's targets once per branch: with scale-aware ranges, the objects outside a
  /// branch's range move from its `boxes` (and every other per-object field) to `ignore_boxes`.
  func targets(_ targets: [Instances]) -> [Instances] {
    (0..<branches).flatMap { branch in
      targets.map { target -> Instances in
        guard let ranges, let boxes = target.boxes, boxes.count > 0 else { return target }
        let scale = boxes.areas.clamped(min: 0).sqrt()
        let inRange = (scale .>= ranges[branch].lowerBound) .&& (scale .<= ranges[branch].upperBound)
        var kept = target[inRange]
        kept.ignoredBoxes = boxes.tensor.indexed(by: !inRange)
        return kept
      }
    }
  }

  /// Scale-aware training's proposals: those outside their branch's range are dropped.
  func proposals(_ proposals: [Proposals]) -> [Proposals] {
    guard let ranges else { return proposals }
    let perBranch = proposals.count / branches
    return proposals.enumerated().map { i, p in
      let range = ranges[i / perBranch]
      let scale = Boxes(p.boxes).areas.clamped(min: 0).sqrt()
      let keep = ((scale .>= range.lowerBound) .&& (scale .<= range.upperBound)).nonzeroIndices().reshaped([-1])
      return Proposals(boxes: p.boxes.gathering(keep), scores: p.scores.gathering(keep))
    }
  }

  /// Each image's detections from its `branches` copies (branch-major), merged by `nms` within
  /// each class, the best `detectionsPerImage` kept.
  func merged(_ detections: [Instances], nms: NMSMethod, detectionsPerImage: Int) -> [Instances] {
    let images = detections.count / branches
    return (0..<images).map { i in
      let copies = (0..<branches).map { detections[$0 * images + i] }
      var fields: [String: Tensor] = [:]
      for name in copies[0].fields.keys {
        fields[name] = Tensor.concatenate(copies.map { $0[name]! }, axis: 0)
      }
      let all = Instances(imageSize: copies[0].imageSize, fields: fields)
      guard let boxes = all.boxes, let scores = all["scores"], let labels = all["labels"], boxes.count > 0 else { return all }
      let reduced = nms.apply(boxes: boxes.tensor, scores: scores, groups: labels, sources: branches)
      let top = Swift.min(detectionsPerImage, reduced.indices.shape[0])
      var out = all[reduced.indices[..<top]]
      out["boxes"] = reduced.boxes[..<top]
      out["scores"] = reduced.scores[..<top]
      return out
    }
  }
}
