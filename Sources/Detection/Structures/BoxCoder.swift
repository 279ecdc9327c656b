import Foundation
import Torch

/// Encodes boxes as offsets from reference boxes and back, the parametrisation of R-CNN
/// (Girshick et al. 2014): `dx = wx·(x - xa)/wa`, `dw = ww·log(w / wa)`, and likewise for y and h.
public struct BoxCoder: Sendable {
  /// Multipliers of `(dx, dy, dw, dh)`: (10, 10, 5, 5) for Fast R-CNN heads, (1, 1, 1, 1) for RPN.
  public var weights: (Double, Double, Double, Double)
  /// Upper bound of `dw` and `dh` before `exp`, so a wild prediction cannot overflow.
  public var scaleClamp: Double

  public init(weights: (Double, Double, Double, Double), scaleClamp: Double = Foundation.log(1000.0 / 16)) {
    self.weights = weights
    self.scaleClamp = scaleClamp
  }

  /// Offsets `[N, 4]` that move `references` onto `targets` (both `[N, 4]`).
  public func encode(_ targets: Tensor, references: Tensor) -> Tensor {
    let (rw, rh, rx, ry) = Self.centerForm(references)
    let (tw, th, tx, ty) = Self.centerForm(targets)
    let dx = weights.0 * (tx - rx) / rw
    let dy = weights.1 * (ty - ry) / rh
    let dw = weights.2 * (tw / rw).log()
    let dh = weights.3 * (th / rh).log()
    return Tensor.stack([dx, dy, dw, dh], axis: 1)
  }

  /// Boxes `[N, 4·k]` from offsets `[N, 4·k]` (k boxes per reference, as per-class heads give)
  /// applied to `references` `[N, 4]`.
  public func decode(_ offsets: Tensor, references: Tensor) -> Tensor {
    let references = references.to(offsets.dtype)
    let (rw, rh, rx, ry) = Self.centerForm(references)
    // Sizes spelled out: with no references, [0, -1, 4] would be ambiguous.
    let n = offsets.shape[0]
    let k = offsets.shape[1] / 4
    let deltas = offsets.reshaped([n, k, 4])
    let dx = deltas[.all, .all, 0] / weights.0
    let dy = deltas[.all, .all, 1] / weights.1
    let dw = (deltas[.all, .all, 2] / weights.2).clamped(max: scaleClamp)
    let dh = (deltas[.all, .all, 3] / weights.3).clamped(max: scaleClamp)
    let cx = dx * rw.unsqueezed(axis: 1) + rx.unsqueezed(axis: 1)
    let cy = dy * rh.unsqueezed(axis: 1) + ry.unsqueezed(axis: 1)
    let halfW = dw.exp() * rw.unsqueezed(axis: 1) * 0.5
    let halfH = dh.exp() * rh.unsqueezed(axis: 1) * 0.5
    return Tensor.stack([cx - halfW, cy - halfH, cx + halfW, cy + halfH], axis: 2).reshaped([n, 4 * k])
  }

  static func centerForm(_ boxes: Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
    let w = boxes[.all, 2] - boxes[.all, 0]
    let h = boxes[.all, 3] - boxes[.all, 1]
    return (w, h, boxes[.all, 0] + 0.5 * w, boxes[.all, 1] + 0.5 * h)
  }
}
