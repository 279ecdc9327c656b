extension Canvas {
  /// The size in pixels `text` covers when drawn at `scale` (see `BitmapFont.size(of:scale:)`).
  public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
    BitmapFont.size(of: text, scale: scale)
  }

  /// The size of the box `drawLabel` draws around `text`.
  public static func labelSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
    let scale = BitmapFont.clampedScale(scale)
    let text = textSize(text, scale: scale)
    return (text.width + 2 * labelPadding.x * scale, text.height + 2 * labelPadding.y * scale)
  }

  /// Room between a label's text and its box edge, before scaling.
  private static let labelPadding = (x: 2, y: 1)

  /// `text` in the built-in bitmap font with its top-left corner at (`x`, `y`); "\n" starts a
  /// new line. `scale` 2 draws each font pixel as a 2×2 square. Whatever falls outside the
  /// canvas is cut off.
  public mutating func drawText(_ text: String, x: Int, y: Int, color: RGB, scale: Int = 1) {
    // Text only extends right and down, so this also keeps the offsets below from overflowing.
    guard x < width, y < height else { return }
    let scale = BitmapFont.clampedScale(scale)
    var lineTop = y
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if lineTop >= height { break }
      var glyphLeft = x
      for character in line {
        if glyphLeft >= width { break }
        drawGlyph(BitmapFont.rows(of: character), left: glyphLeft, top: lineTop, color: color, scale: scale)
        glyphLeft += BitmapFont.advance * scale
      }
      lineTop += BitmapFont.lineHeight * scale
    }
  }

  /// `text` on a box of `background`, the box's top-left corner at (`x`, `y`) but moved as
  /// needed to keep the whole box on the canvas, so that labels of objects at the picture's
  /// edge stay readable. Returns where the box went.
  @discardableResult
  public mutating func drawLabel(
    _ text: String, x: Int, y: Int, background: RGB, foreground: RGB, scale: Int = 1
  ) -> (x: Int, y: Int, width: Int, height: Int) {
    let scale = BitmapFont.clampedScale(scale)
    let size = Self.labelSize(text, scale: scale)
    let left = min(max(x, 0), max(width - size.width, 0))
    let top = min(max(y, 0), max(height - size.height, 0))
    fillPixels(
      left: left, top: top, right: left + size.width - 1, bottom: top + size.height - 1,
      color: background, opacity: 1)
    drawText(
      text, x: left + Self.labelPadding.x * scale, y: top + Self.labelPadding.y * scale,
      color: foreground, scale: scale)
    return (left, top, size.width, size.height)
  }

  private mutating func drawGlyph(_ rows: [UInt8], left: Int, top: Int, color: RGB, scale: Int) {
    for (row, mask) in rows.enumerated() where mask != 0 {
      for column in 0..<BitmapFont.glyphWidth where mask & (0x10 >> UInt8(column)) != 0 {
        let x = left + column * scale
        let y = top + row * scale
        fillPixels(left: x, top: y, right: x + scale - 1, bottom: y + scale - 1, color: color, opacity: 1)
      }
    }
  }
}
