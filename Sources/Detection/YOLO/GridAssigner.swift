import Torch

/// YOLOv3's assignment of ground truths to anchors (mmdetection's `GridAssigner`), for one image.
///
/// An anchor is *responsible* when a ground truth's centre falls in its grid cell. Then, in this
/// order: every anchor whose best IoU with any ground truth is at most `backgroundIoU` is
/// background; a responsible anchor whose best IoU among the ground truths exceeds
/// `foregroundIoU` takes that ground truth; and each ground truth takes the responsible anchors
/// of its highest IoU (all of them on ties; later ground truths win) when that exceeds
/// `minForegroundIoU`. What is left is ignored (objectness unlearned: the paper's ignore
/// threshold). As in mmdetection, responsibility is any ground truth's cell, not necessarily the
/// matched one's.
struct GridAssigner {
  var foregroundIoU: Double
  var backgroundIoU: Double
  var minForegroundIoU: Double

  /// Per anchor: the index of its ground truth (≥ 0), `background` or `ignored`.
  static let background: Int64 = -1
  static let ignored: Int64 = -2

  /// The assignment `[P]` (int64) of `anchors` `[P, 4]` with `responsible` `[P]` (bool) to
  /// `groundTruth` `[G, 4]`.
  func callAsFunction(anchors: Tensor, responsible: Tensor, groundTruth: Tensor) -> Tensor {
    let count = anchors.shape[0]
    guard groundTruth.shape[0] > 0 else {
      return Tensor.full([count], value: Self.background, dtype: .int64, device: anchors.device)
    }
    let overlaps = Boxes.iou(Boxes(groundTruth), Boxes(anchors))  // [G, P]
    let best = overlaps.max(axis: 0).values
    var assigned = Tensor.full([count], value: Self.ignored, dtype: .int64, device: anchors.device)
    assigned = assigned.filling(where: (best .>= 0) .&& (best .<= backgroundIoU), with: Self.background)

    // Only responsible anchors can become foreground.
    let minusOne = Tensor.full(overlaps.shape, value: -1.0, dtype: overlaps.dtype, device: overlaps.device)
    let candidates = overlaps.replacing(with: minusOne, where: !responsible.unsqueezed(axis: 0))
    let (bestResponsible, bestGroundTruth) = candidates.max(axis: 0)
    let foreground = (bestResponsible .> foregroundIoU) .&& responsible
    assigned = assigned.replacing(with: bestGroundTruth, where: foreground)

    // Each ground truth's best responsible anchors, the last ground truth winning where several
    // claim one (mmdetection assigns them in a loop).
    let perGroundTruth = candidates.max(axis: 1).values  // [G]
    let claims =
      (candidates .== perGroundTruth.unsqueezed(axis: 1)) .&& responsible.unsqueezed(axis: 0)
      .&& (perGroundTruth .> minForegroundIoU).unsqueezed(axis: 1)
    let numbers = Tensor.arange(groundTruth.shape[0], dtype: .int64, device: anchors.device).unsqueezed(axis: 1) + 1
    let lastClaim = (claims.to(.int64) * numbers).max(axis: 0).values  // 0: none, else index + 1
    return assigned.replacing(with: lastClaim - 1, where: lastClaim .> 0)
  }
}
