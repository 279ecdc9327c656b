import Torch

/// Encodes boxes as the distances from a reference box's centre to their four edges, divided by
/// the reference's width and height: FCOS's parametrisation (torchvision's `BoxLinearCoder` with
/// `normalize_by_size=True`).
public struct BoxLinearCoder: Sendable {
  public init() {}

  /// Distances `[..., 4]` (left, top, right, bottom) of `boxes` from the centres of `references`,
  /// in units of the references' sizes.
  public func encode(_ boxes: Tensor, references: Tensor) -> Tensor {
    let (centerX, centerY, width, height) = Self.centersAndSizes(references)
    let left = centerX - boxes[.ellipsis, 0]
    let top = centerY - boxes[.ellipsis, 1]
    let right = boxes[.ellipsis, 2] - centerX
    let bottom = boxes[.ellipsis, 3] - centerY
    let sizes = Tensor.stack([width, height, width, height], axis: -1)
    return Tensor.stack([left, top, right, bottom], axis: -1) / sizes
  }

  /// Boxes `[..., 4]` from distances `[..., 4]` around the centres of `references`.
  public func decode(_ distances: Tensor, references: Tensor) -> Tensor {
    let references = references.to(distances.dtype)
    let (centerX, centerY, width, height) = Self.centersAndSizes(references)
    let scaled = distances * Tensor.stack([width, height, width, height], axis: -1)
    return Tensor.stack(
      [
        centerX - scaled[.ellipsis, 0], centerY - scaled[.ellipsis, 1], centerX + scaled[.ellipsis, 2],
        centerY + scaled[.ellipsis, 3],
      ], axis: -1)
  }

  static func centersAndSizes(_ boxes: Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
    let centerX = 0.5 * (boxes[.ellipsis, 0] + boxes[.ellipsis, 2])
    let centerY = 0.5 * (boxes[.ellipsis, 1] + boxes[.ellipsis, 3])
    return (centerX, centerY, boxes[.ellipsis, 2] - boxes[.ellipsis, 0], boxes[.ellipsis, 3] - boxes[.ellipsis, 1])
  }
}
