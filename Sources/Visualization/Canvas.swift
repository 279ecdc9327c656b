import Data
import Foundation

/// An RGB picture to draw on: boxes, lines, masks and text, then written as PNG.
///
/// Drawing is for people reading results, so it never traps on odd geometry: coordinates are
/// clipped to the canvas, NaN shapes are skipped, infinite ones are clamped, and thickness or
/// text scale below 1 count as 1. Coordinates are pixels with (0, 0) the top-left corner; pixel
/// (x, y) covers the square from x to x + 1 and y to y + 1.
public struct Canvas: Sendable {
  /// The picture drawn so far, always with 3 channels.
  public private(set) var image: Image

  public var width: Int { image.width }
  public var height: Int { image.height }

  /// A canvas holding `image`; gray and alpha images are converted to RGB (alpha is dropped).
  public init(_ image: Image) {
    self.image = image.converted(toChannels: 3)
  }

  /// A blank canvas filled with `background`.
  public init(width: Int, height: Int, background: RGB = .white) {
    image = Image(
      width: max(0, width), height: max(0, height), filledWith: [background.r, background.g, background.b])
  }

  /// The colour at column `x`, row `y`; nil outside the canvas.
  public func color(x: Int, y: Int) -> RGB? {
    guard x >= 0, y >= 0, x < width, y < height else { return nil }
    let index = (y * width + x) * 3
    return RGB(r: image.pixels[index], g: image.pixels[index + 1], b: image.pixels[index + 2])
  }

  /// The picture as PNG bytes.
  public func pngData() throws -> Data {
    try ImageCodec.encodePNG(image)
  }

  /// The outline of the box from (`x1`, `y1`) to (`x2`, `y2`), drawn inwards from its edges so
  /// that the stroke covers the boxed object's border and not its surroundings. Corners may be
  /// given in either order.
  public mutating func drawRectangle(
    x1: Double, y1: Double, x2: Double, y2: Double, color: RGB, thickness: Int = 1
  ) {
    let stroke = min(max(thickness, 1), max(width, height, 1))
    guard let box = pixelBox(x1: x1, y1: y1, x2: x2, y2: y2, margin: stroke) else { return }
    let inner = stroke - 1
    fillPixels(left: box.left, top: box.top, right: box.right, bottom: box.top + inner, color: color, opacity: 1)
    fillPixels(left: box.left, top: box.bottom - inner, right: box.right, bottom: box.bottom, color: color, opacity: 1)
    fillPixels(left: box.left, top: box.top, right: box.left + inner, bottom: box.bottom, color: color, opacity: 1)
    fillPixels(left: box.right - inner, top: box.top, right: box.right, bottom: box.bottom, color: color, opacity: 1)
  }

  /// The box from (`x1`, `y1`) to (`x2`, `y2`) filled with `color` laid over the picture at
  /// `opacity` (0 leaves the picture as it is, 1 paints solid).
  public mutating func fillRectangle(
    x1: Double, y1: Double, x2: Double, y2: Double, color: RGB, opacity: Double = 1
  ) {
    guard let box = pixelBox(x1: x1, y1: y1, x2: x2, y2: y2, margin: 1) else { return }
    fillPixels(left: box.left, top: box.top, right: box.right, bottom: box.bottom, color: color, opacity: opacity)
  }

  /// `color` laid at `opacity` over the pixels where `mask` is non-zero. `mask` holds one byte
  /// per canvas pixel, row by row (the layout of a decoded instance mask).
  public mutating func blendMask(_ mask: [UInt8], color: RGB, opacity: Double) {
    precondition(
      mask.count == width * height, "Canvas: mask has \(mask.count) pixels for a \(width)x\(height) canvas")
    let alpha = Self.clampedOpacity(opacity)
    if alpha == 0 { return }
    let top = (Double(color.r), Double(color.g), Double(color.b))
    mask.withUnsafeBufferPointer { inside in
      image.pixels.withUnsafeMutableBufferPointer { pixels in
        for index in 0..<inside.count where inside[index] != 0 {
          pixels[index * 3] = Self.mix(pixels[index * 3], top.0, alpha)
          pixels[index * 3 + 1] = Self.mix(pixels[index * 3 + 1], top.1, alpha)
          pixels[index * 3 + 2] = Self.mix(pixels[index * 3 + 2], top.2, alpha)
        }
      }
    }
  }

  // MARK: - Pixel spans shared by the shapes

  /// The pixels covered by a box given as continuous corners (rounded to the nearest pixel
  /// edge, at least one pixel each way), or nil when a corner is NaN or the box misses the
  /// canvas. Edges further than `margin` beyond the canvas are pulled in to `margin` so that
  /// infinities and huge values become ordinary integers without moving any visible edge.
  private func pixelBox(x1: Double, y1: Double, x2: Double, y2: Double, margin: Int)
    -> (left: Int, top: Int, right: Int, bottom: Int)?
  {
    guard !x1.isNaN, !y1.isNaN, !x2.isNaN, !y2.isNaN else { return nil }
    let left = Self.pixelEdge(min(x1, x2), limit: width, margin: margin)
    let right = max(Self.pixelEdge(max(x1, x2), limit: width, margin: margin) - 1, left)
    let top = Self.pixelEdge(min(y1, y2), limit: height, margin: margin)
    let bottom = max(Self.pixelEdge(max(y1, y2), limit: height, margin: margin) - 1, top)
    guard right >= 0, bottom >= 0, left < width, top < height else { return nil }
    return (left, top, right, bottom)
  }

  private static func pixelEdge(_ coordinate: Double, limit: Int, margin: Int) -> Int {
    let low = Double(-margin - 1)
    let high = Double(limit + margin + 1)
    return Int(min(max(coordinate, low), high).rounded())
  }

  /// Paints the pixels from column `left` to `right` and row `top` to `bottom` (inclusive),
  /// clipped to the canvas.
  mutating func fillPixels(left: Int, top: Int, right: Int, bottom: Int, color: RGB, opacity: Double) {
    let alpha = Self.clampedOpacity(opacity)
    let x0 = max(left, 0)
    let x1 = min(right, width - 1)
    let y0 = max(top, 0)
    let y1 = min(bottom, height - 1)
    guard alpha > 0, x0 <= x1, y0 <= y1 else { return }
    let rowWidth = width
    let solid = alpha >= 1
    let top = (Double(color.r), Double(color.g), Double(color.b))
    image.pixels.withUnsafeMutableBufferPointer { pixels in
      for y in y0...y1 {
        for x in x0...x1 {
          let index = (y * rowWidth + x) * 3
          if solid {
            pixels[index] = color.r
            pixels[index + 1] = color.g
            pixels[index + 2] = color.b
          } else {
            pixels[index] = Self.mix(pixels[index], top.0, alpha)
            pixels[index + 1] = Self.mix(pixels[index + 1], top.1, alpha)
            pixels[index + 2] = Self.mix(pixels[index + 2], top.2, alpha)
          }
        }
      }
    }
  }

  /// Opacity within 0...1; NaN paints nothing.
  private static func clampedOpacity(_ opacity: Double) -> Double {
    opacity.isNaN ? 0 : min(max(opacity, 0), 1)
  }

  private static func mix(_ base: UInt8, _ top: Double, _ alpha: Double) -> UInt8 {
    let value = Double(base) + (top - Double(base)) * alpha
    return UInt8(min(255, max(0, value.rounded())))
  }
}
