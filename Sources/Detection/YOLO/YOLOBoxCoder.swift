import Torch

/// YOLOv3's anchors and box coding (mmdetection's `YOLOAnchorGenerator` and `YOLOBBoxCoder`).
///
/// Anchors are `[width, height]` templates centred on each grid cell's centre. A box is coded
/// against its anchor as its centre's position in the cell, `(centre − anchor centre) / stride
/// + 0.5` (in (0, 1), predicted through a sigmoid), and its log size relative to the anchor's.
enum YOLOBoxCoder {
  /// mmdetection's `eps`: the smallest centre position and size ratio encoded.
  static let epsilon = 1e-6

  /// The anchors `[H·W·A, 4]` of one level of `height` × `width` cells of `stride` pixels, with
  /// `sizes` `[width, height]` templates: location-major (row by row), then anchor. Computed as
  /// mmdetection computes them (template corners in float32, plus the cell's offset).
  static func anchors(sizes: [[Double]], stride: Int, height: Int, width: Int, device: Device) -> Tensor {
    let centre = Float(stride) / 2
    let templates = sizes.flatMap { size -> [Float] in
      let (w, h) = (Float(size[0]), Float(size[1]))
      return [centre - 0.5 * w, centre - 0.5 * h, centre + 0.5 * w, centre + 0.5 * h]
    }
    let base = Tensor(templates, shape: [sizes.count, 4], device: device)
    let xs = Tensor.arange(width, dtype: .float32, device: device) * Double(stride)
    let ys = Tensor.arange(height, dtype: .float32, device: device) * Double(stride)
    let shiftX = xs.unsqueezed(axis: 0).expanded(to: [height, width]).reshaped([-1])
    let shiftY = ys.unsqueezed(axis: 1).expanded(to: [height, width]).reshaped([-1])
    let shifts = Tensor.stack([shiftX, shiftY, shiftX, shiftY], axis: 1)
    return (shifts.unsqueezed(axis: 1) + base.unsqueezed(axis: 0)).reshaped([-1, 4])
  }

  /// Boxes `[P, 4]` from `anchors` `[P, 4]`, predictions `[P, 4]` whose first two (the centre in
  /// the cell) have been through the sigmoid, and each anchor's stride `[P, 1]`.
  static func decode(_ predictions: Tensor, anchors: Tensor, strides: Tensor) -> Tensor {
    let centres = (anchors[.all, 0..<2] + anchors[.all, 2..<4]) * 0.5 + (predictions[.all, 0..<2] - 0.5) * strides
    let halfSizes = (anchors[.all, 2..<4] - anchors[.all, 0..<2]) * 0.5 * predictions[.all, 2..<4].exp()
    return Tensor.concatenate([centres - halfSizes, centres + halfSizes], axis: 1)
  }

  /// The targets `[P, 4]` of `boxes` `[P, 4]` against `anchors` `[P, 4]` of strides `[P]`.
  static func encode(_ boxes: Tensor, anchors: Tensor, strides: Tensor) -> Tensor {
    let boxCentres = (boxes[.all, 0..<2] + boxes[.all, 2..<4]) * 0.5
    let boxSizes = boxes[.all, 2..<4] - boxes[.all, 0..<2]
    let anchorCentres = (anchors[.all, 0..<2] + anchors[.all, 2..<4]) * 0.5
    let anchorSizes = anchors[.all, 2..<4] - anchors[.all, 0..<2]
    let sizes = (boxSizes / anchorSizes).clamped(min: epsilon).log()
    let positions = ((boxCentres - anchorCentres) / strides.unsqueezed(axis: 1) + 0.5).clamped(min: epsilon, max: 1 - epsilon)
    return Tensor.concatenate([positions, sizes], axis: 1)
  }
}
