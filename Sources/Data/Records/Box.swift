/// An axis-aligned box `x1, y1, x2, y2` in absolute pixels (SimpleDet's convention everywhere
/// inside; file formats with `x, y, w, h` are converted where they are read and written).
public struct Box: Sendable, Hashable, Codable {
  public var x1: Float
  public var y1: Float
  public var x2: Float
  public var y2: Float

  public init(x1: Float, y1: Float, x2: Float, y2: Float) {
    self.x1 = x1
    self.y1 = y1
    self.x2 = x2
    self.y2 = y2
  }

  /// The box a COCO `bbox` `[x, y, width, height]` describes.
  public init(x: Float, y: Float, width: Float, height: Float) {
    self.init(x1: x, y1: y, x2: x + width, y2: y + height)
  }

  public var width: Float { x2 - x1 }
  public var height: Float { y2 - y1 }
  public var area: Float { max(width, 0) * max(height, 0) }
  /// `[x, y, width, height]`, as COCO files store boxes.
  public var xywh: [Float] { [x1, y1, width, height] }

  /// Whether both sides are longer than `minimumSide` pixels.
  public func isNonDegenerate(minimumSide: Float = 0) -> Bool { width > minimumSide && height > minimumSide }

  /// The box cut to the image `[0, width] x [0, height]`.
  public func clipped(width imageWidth: Int, height imageHeight: Int) -> Box {
    let w = Float(imageWidth)
    let h = Float(imageHeight)
    return Box(x1: min(max(x1, 0), w), y1: min(max(y1, 0), h), x2: min(max(x2, 0), w), y2: min(max(y2, 0), h))
  }

  /// Whether the box reaches more than `tolerance` pixels outside the image.
  public func isOutside(width imageWidth: Int, height imageHeight: Int, tolerance: Float = 1) -> Bool {
    x1 < -tolerance || y1 < -tolerance || x2 > Float(imageWidth) + tolerance || y2 > Float(imageHeight) + tolerance
  }
}
