import NN
import Torch

/// Test-time augmentation (`test.augment` in a config): every image runs through the detector at
/// several sizes, and flipped; the detections are mapped back to the image and merged once.
/// Works for every detector, as detectron2's `GeneralizedRCNNWithTTA` and mmdetection's
/// `DetTTAModel` do for theirs: each pass keeps the detector's own selection (its score
/// threshold, its NMS or `test.nms`, its detection count), and `merge` reduces their union.
public struct TestAugmentation: Codable, Equatable, Sendable {
  /// The shorter sides images are resized to, one pass each; empty: the test size only (to flip
  /// alone).
  public var scales: [Int] = []
  /// Whether every scale also runs on the horizontally flipped images.
  public var flip = false
  /// The longer side's limit for every pass; nil: the test limit scaled as the shorter side is
  /// (`max_size × scale / min_size`), so that every pass keeps the test aspect limit.
  @Nullable public var maxSize: Int? = nil
  /// How the passes' detections are reduced; nil: the config's `test.nms`, or greedy NMS at IoU
  /// 0.5 without one (detectron2's and mmdetection's TTA default).
  @Nullable public var merge: NMSMethod? = nil

  public init(scales: [Int] = [], flip: Bool = false, maxSize: Int? = nil, merge: NMSMethod? = nil) {
    self.scales = scales
    self.flip = flip
    self.maxSize = maxSize
    self.merge = merge
  }

  /// The number of passes per image.
  public var passes: Int { Swift.max(scales.count, 1) * (flip ? 2 : 1) }

  /// The shorter sides of the passes under test settings `inference`.
  func sizes(under inference: InferenceSettings) -> [Int] { scales.isEmpty ? [inference.minSize] : scales }

  /// The test settings of one pass at shorter side `scale`, from the un-augmented ones.
  func settings(scale: Int, from inference: InferenceSettings) -> InferenceSettings {
    var pass = inference
    pass.augment = nil
    pass.minSize = scale
    pass.maxSize = maxSize ?? Int((Double(inference.maxSize) * Double(scale) / Double(inference.minSize)).rounded())
    return pass
  }

  private enum CodingKeys: String, CodingKey {
    case scales, flip
    case maxSize = "max_size"
    case merge
  }
}

extension Detector {
  /// Detections for `images` with test-time augmentation: one `detect` pass per scale and flip
  /// (with `inference.augment` cleared during the passes, and restored after), each pass's
  /// detections mapped back to original image pixels (boxes and masks un-flipped), then merged
  /// by `augmentation.merge` and cut to `inference.detectionsPerImage`.
  public func detect(_ images: [Tensor], augmentation: TestAugmentation) -> [Instances] {
    let original = inference
    defer { inference = original }
    var passes = Array(repeating: [Instances](), count: images.count)
    let flipped = augmentation.flip ? images.map { $0.flipped(axes: [2]) } : []
    for scale in augmentation.sizes(under: original) {
      inference = augmentation.settings(scale: scale, from: original)
      for (i, found) in detect(images).enumerated() { passes[i].append(found) }
      if augmentation.flip {
        for (i, found) in detect(flipped).enumerated() { passes[i].append(found.flippedHorizontally()) }
      }
    }
    let method = augmentation.merge ?? original.nms ?? .standard(iouThreshold: 0.5)
    return passes.map { merged($0, method: method, limit: original.detectionsPerImage) }
  }
}

extension Instances {
  /// The detections of the mirror image: boxes `x1, x2` become `width − x2, width − x1`, masks
  /// are mirrored; the other fields stay.
  public func flippedHorizontally() -> Instances {
    var out = self
    let width = Double(imageSize.width)
    if let boxes = self["boxes"] {
      let x1 = boxes[.all, 0].unsqueezed(axis: 1)
      let x2 = boxes[.all, 2].unsqueezed(axis: 1)
      out["boxes"] = Tensor.concatenate(
        [width - x2, boxes[.all, 1].unsqueezed(axis: 1), width - x1, boxes[.all, 3].unsqueezed(axis: 1)], axis: 1)
    }
    if let masks = self["masks"] { out["masks"] = masks.flipped(axes: [masks.rank - 1]) }
    return out
  }
}

/// One image's detections from several passes reduced by `method` (within each label), best
/// first, at most `limit`; masks follow their boxes (for fused boxes, the best member's mask).
func merged(_ passes: [Instances], method: NMSMethod, limit: Int) -> Instances {
  guard let first = passes.first else { preconditionFailure("merged: no passes") }
  let boxes = Tensor.concatenate(passes.map { $0["boxes"]! })
  let scores = Tensor.concatenate(passes.map { $0["scores"]! })
  let labels = Tensor.concatenate(passes.map { $0["labels"]! })
  let reduced = method.apply(boxes: boxes, scores: scores, groups: labels, sources: passes.count)
  let top = Swift.min(limit, reduced.indices.shape[0])
  let kept = reduced.indices[..<top]
  var out = Instances(
    imageSize: first.imageSize,
    fields: ["boxes": reduced.boxes[..<top], "scores": reduced.scores[..<top], "labels": labels.gathering(kept)])
  if first["masks"] != nil {
    // Only the kept masks are gathered: the union of every pass's full-image masks can be large.
    var starts: [Int] = []
    var total = 0
    for pass in passes {
      starts.append(total)
      total += pass.count
    }
    let pieces = kept.toArray(Int.self).map { index -> Tensor in
      let p = passes.indices.first { index < starts[$0] + passes[$0].count }!
      let local = index - starts[p]
      return passes[p]["masks"]![local..<(local + 1)]
    }
    out["masks"] =
      pieces.isEmpty
      ? first["masks"]![..<0] : Tensor.concatenate(pieces)
  }
  return out
}
