import NN
import Torch

/// How a dense detector's box branch is penalised, as torchvision's `_box_loss`.
public enum BoxRegressionLoss: String, ConfigChoice, Sendable {
  /// Smooth L1 (β = 1) on the encoded offsets.
  case smoothL1 = "smooth_l1"
  /// L1 on the encoded offsets (RetinaNet v1).
  case l1
  /// Generalised IoU between the decoded boxes and their targets (RetinaNet v2, FCOS).
  case giou

  /// The summed loss of `predictions` (offsets `[N, 4]` from `anchors` `[N, 4]`) against the
  /// matched ground-truth boxes `targets` `[N, 4]`.
  public func summed(predictions: Tensor, anchors: Tensor, targets: Tensor, coder: BoxCoder) -> Tensor {
    switch self {
    case .l1:
      return Functional.l1Loss(predictions, targets: coder.encode(targets, references: anchors), reduction: .sum)
    case .smoothL1:
      return Functional.smoothL1Loss(
        predictions, targets: coder.encode(targets, references: anchors), beta: 1, reduction: .sum)
    case .giou:
      return generalizedIoULoss(coder.decode(predictions, references: anchors), targets).sum()
    }
  }
}

/// `1 - GIoU` of each box of `a` with the box of `b` in the same row (both `[N, 4]`), with
/// torchvision's `generalized_box_iou_loss` arithmetic: `eps` guards both divisions, and boxes
/// that do not overlap have zero intersection. Returns `[N]`.
public func generalizedIoULoss(_ a: Tensor, _ b: Tensor, eps: Double = 1e-7) -> Tensor {
  let (x1, y1, x2, y2) = (a[.all, 0], a[.all, 1], a[.all, 2], a[.all, 3])
  let (x1g, y1g, x2g, y2g) = (b[.all, 0], b[.all, 1], b[.all, 2], b[.all, 3])
  let left = x1.maximum(x1g)
  let top = y1.maximum(y1g)
  let right = x2.minimum(x2g)
  let bottom = y2.minimum(y2g)
  let overlaps = (bottom .> top) .&& (right .> left)
  let intersection = Tensor.select(where: overlaps, (right - left) * (bottom - top), x1.zerosLike())
  let areaA: Tensor = (x2 - x1) * (y2 - y1)
  let areaB: Tensor = (x2g - x1g) * (y2g - y1g)
  let union: Tensor = areaA + areaB - intersection
  let iou: Tensor = intersection / (union + eps)
  let enclosingWidth: Tensor = x2.maximum(x2g) - x1.minimum(x1g)
  let enclosingHeight: Tensor = y2.maximum(y2g) - y1.minimum(y1g)
  let enclosing: Tensor = enclosingWidth * enclosingHeight
  let penalty: Tensor = (enclosing - union) / (enclosing + eps)
  return 1 - (iou - penalty)
}
