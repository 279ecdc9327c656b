import Data
import Testing
@testable import Visualization

@Suite struct TextTests {
  @Test func textStaysInsideItsMeasuredSize() {
    let text = "Ag:0.97 [py] W"
    for scale in [1, 2, 3] {
      var canvas = Canvas(width: 300, height: 60)
      canvas.drawText(text, x: 7, y: 5, color: .black, scale: scale)
      let size = Canvas.textSize(text, scale: scale)
      let drawn = canvas.image.pixels { $0 == .black }
      let outside = drawn.filter { !((7..<7 + size.width).contains($0.x) && (5..<5 + size.height).contains($0.y)) }
      #expect(drawn.count > 20 * scale * scale)
      #expect(outside.isEmpty)
      // The measured size is tight: ink reaches its last column and, thanks to the
      // descenders of "g" and "p", its last row.
      let right = drawn.map(\.x).max()
      let bottom = drawn.map(\.y).max()
      #expect(right == 7 + size.width - 1)
      #expect(bottom == 5 + size.height - 1)
    }
  }

  @Test func sizeCountsLinesAndTheLongestLine() {
    let single = Canvas.textSize("abc")
    let lines = Canvas.textSize("abc\nlonger", scale: 2)
    let empty = Canvas.textSize("")
    let singleIsTight = single.width == 17 && single.height == 9
    let linesAreCounted = lines.width == 70 && lines.height == 38
    let emptyIsEmpty = empty.width == 0 && empty.height == 0
    #expect(singleIsTight)
    #expect(linesAreCounted)
    #expect(emptyIsEmpty)
  }

  @Test func everyPrintableCharacterHasAGlyphAndUnknownOnesABox() {
    let printable = (32...126).compactMap { Unicode.Scalar($0).map(Character.init) }
    let inked = printable.filter { BitmapFont.rows(of: $0).contains { $0 != 0 } }
    #expect(inked.count == 94)  // all but the space
    let box = BitmapFont.rows(of: "é")
    #expect(box.count == BitmapFont.glyphHeight)
    #expect(box.first == 0x1F)
    let distinctGlyphs = Set(printable.map { BitmapFont.rows(of: $0) })
    #expect(distinctGlyphs.count == printable.count)
  }

  @Test func glyphsAreLegibleShapes() {
    // Spot checks against the intended drawings.
    #expect(BitmapFont.rows(of: "H") == [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0, 0])
    #expect(BitmapFont.rows(of: "0") == [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0, 0])
    #expect(BitmapFont.rows(of: "g").suffix(2) == [0x01, 0x0E])
  }

  @Test func labelAtTheCornerStaysInsideTheCanvas() {
    var canvas = Canvas(width: 60, height: 40)
    let placed = canvas.drawLabel("person 0.99", x: 50, y: 35, background: blue, foreground: .white)
    let size = Canvas.labelSize("person 0.99")
    #expect(placed.x == 0)  // wider than the space left: pushed to the left edge
    #expect(placed.y == 40 - size.height)
    #expect(canvas.pixel(0, 39) == blue)
    var corner = Canvas(width: 200, height: 100)
    let bottomRight = corner.drawLabel("cat", x: 190, y: 95, background: blue, foreground: red)
    let right = bottomRight.x + bottomRight.width
    let bottom = bottomRight.y + bottomRight.height
    #expect(right == 200)
    #expect(bottom == 100)
    let textPixels = corner.image.count(of: red)
    let boxPixels = corner.image.count(of: blue)
    #expect(textPixels > 10)
    let catSize = Canvas.labelSize("cat")
    #expect(textPixels + boxPixels == catSize.width * catSize.height)
  }

  @Test func farAwayTextDrawsNothing() {
    var canvas = Canvas(width: 10, height: 10)
    canvas.drawText("far", x: Int.max, y: 0, color: .black, scale: Int.max)
    canvas.drawText("far", x: Int.min, y: Int.min, color: .black)
    #expect(canvas.image.count(of: .black) == 0)
  }
}
