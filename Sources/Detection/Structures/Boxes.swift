import Torch

/// Axis-aligned boxes as an `[N, 4]` float tensor of `x1, y1, x2, y2` in absolute pixels.
public struct Boxes {
  public let tensor: Tensor

  public init(_ tensor: Tensor) {
    precondition(tensor.rank == 2 && tensor.shape[1] == 4, "Boxes need an [N, 4] tensor, got \(tensor.shape)")
    self.tensor = tensor
  }

  /// Boxes from COCO's `x, y, width, height`.
  public init(xywh: Tensor) {
    let parts = xywh.split(sizes: [2, 2], axis: 1)
    self.init(Tensor.concatenate([parts[0], parts[0] + parts[1]], axis: 1))
  }

  public var count: Int { tensor.shape[0] }
  public var widths: Tensor { tensor[.all, 2] - tensor[.all, 0] }
  public var heights: Tensor { tensor[.all, 3] - tensor[.all, 1] }
  public var areas: Tensor { widths * heights }
  public var centers: Tensor { (tensor[.all, 0..<2] + tensor[.all, 2..<4]) * 0.5 }

  /// As COCO's `x, y, width, height`.
  public var xywh: Tensor {
    Tensor.concatenate([tensor[.all, 0..<2], tensor[.all, 2..<4] - tensor[.all, 0..<2]], axis: 1)
  }

  /// Coordinates limited to an image of `height`×`width` pixels.
  public func clipped(height: Int, width: Int) -> Boxes {
    let x = tensor[.all, .stride(from: 0, by: 2)].clamped(min: 0, max: Double(width))
    let y = tensor[.all, .stride(from: 1, by: 2)].clamped(min: 0, max: Double(height))
    return Boxes(Tensor.stack([x[.all, 0], y[.all, 0], x[.all, 1], y[.all, 1]], axis: 1))
  }

  /// A bool mask of the boxes wider and taller than `minSize`.
  public func nonEmpty(minSize: Double = 0) -> Tensor {
    (widths .> minSize) .&& (heights .> minSize)
  }

  /// A bool mask of the boxes at least `minSize` wide and tall (torchvision's `remove_small_boxes`).
  public func hasSize(atLeast minSize: Double) -> Tensor {
    (widths .>= minSize) .&& (heights .>= minSize)
  }

  /// Boxes scaled by `(x, y)` factors, as after resizing the image.
  public func scaled(x: Double, y: Double) -> Boxes {
    let factors = Tensor([x, y, x, y], device: tensor.device).to(tensor.dtype)
    return Boxes(tensor * factors)
  }

  /// Boxes mirrored left–right in an image `imageWidth` wide.
  public func flippedHorizontally(imageWidth: Int) -> Boxes {
    let w = Double(imageWidth)
    return Boxes(Tensor.stack([w - tensor[.all, 2], tensor[.all, 1], w - tensor[.all, 0], tensor[.all, 3]], axis: 1))
  }

  /// The boxes selected by a bool mask or integer indices.
  public subscript(_ index: Tensor) -> Boxes { Boxes(tensor.indexed(by: index)) }

  public static func concatenate(_ boxes: [Boxes]) -> Boxes {
    Boxes(Tensor.concatenate(boxes.map(\.tensor), axis: 0))
  }
}

extension Boxes {
  /// Intersection over union of every box of `a` with every box of `b`: `[a.count, b.count]`.
  public static func iou(_ a: Boxes, _ b: Boxes) -> Tensor {
    let (inter, union) = intersectionAndUnion(a, b)
    return inter / union
  }

  /// Generalised IoU (Rezatofighi et al. 2019): IoU minus the share of the smallest enclosing
  /// box not covered by the union; in [-1, 1], and informative for disjoint boxes.
  public static func generalizedIoU(_ a: Boxes, _ b: Boxes) -> Tensor {
    let (inter, union) = intersectionAndUnion(a, b)
    let iou = inter / union
    let topLeft = a.tensor[.all, .newAxis, 0..<2].minimum(b.tensor[.newAxis, .all, 0..<2])
    let bottomRight = a.tensor[.all, .newAxis, 2..<4].maximum(b.tensor[.newAxis, .all, 2..<4])
    let size = (bottomRight - topLeft).clamped(min: 0)
    let enclosing = size[.ellipsis, 0] * size[.ellipsis, 1]
    return iou - (enclosing - union) / enclosing
  }

  static func intersectionAndUnion(_ a: Boxes, _ b: Boxes) -> (Tensor, Tensor) {
    let topLeft = a.tensor[.all, .newAxis, 0..<2].maximum(b.tensor[.newAxis, .all, 0..<2])
    let bottomRight = a.tensor[.all, .newAxis, 2..<4].minimum(b.tensor[.newAxis, .all, 2..<4])
    let size = (bottomRight - topLeft).clamped(min: 0)
    let inter = size[.ellipsis, 0] * size[.ellipsis, 1]
    let union = a.areas.unsqueezed(axis: 1) + b.areas.unsqueezed(axis: 0) - inter
    return (inter, union)
  }
}
