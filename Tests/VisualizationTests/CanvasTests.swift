import Data
import Foundation
import Testing
import Visualization

@Suite struct CanvasShapeTests {
  @Test func rectangleColoursItsEdgesOnly() {
    var canvas = Canvas(width: 40, height: 30)
    canvas.drawRectangle(x1: 10, y1: 5, x2: 30, y2: 25, color: red, thickness: 2)
    // Pixels 10...29 by 5...24, stroked 2 pixels inwards.
    let corners = [canvas.pixel(10, 5), canvas.pixel(29, 5), canvas.pixel(10, 24), canvas.pixel(29, 24)]
    #expect(corners.allSatisfy { $0 == red })
    let innerStroke = [canvas.pixel(11, 15), canvas.pixel(28, 15), canvas.pixel(20, 6), canvas.pixel(20, 23)]
    #expect(innerStroke.allSatisfy { $0 == red })
    let interior = [canvas.pixel(12, 15), canvas.pixel(27, 15), canvas.pixel(20, 7), canvas.pixel(20, 22)]
    #expect(interior.allSatisfy { $0 == .white })
    let outside = [canvas.pixel(9, 15), canvas.pixel(30, 15), canvas.pixel(20, 4), canvas.pixel(20, 25)]
    #expect(outside.allSatisfy { $0 == .white })
    let strokePixels = canvas.image.count(of: red)
    #expect(strokePixels == 20 * 20 - 16 * 16)
  }

  @Test func rectangleCornersInEitherOrderDrawTheSameBox() {
    var forward = Canvas(width: 20, height: 20)
    forward.drawRectangle(x1: 2, y1: 3, x2: 15, y2: 12, color: red)
    var backward = Canvas(width: 20, height: 20)
    backward.drawRectangle(x1: 15, y1: 12, x2: 2, y2: 3, color: red)
    #expect(forward.image == backward.image)
  }

  @Test func rectanglePartlyOffTheCanvasDrawsOnlyItsVisibleEdges() {
    var canvas = Canvas(width: 20, height: 20)
    canvas.drawRectangle(x1: -50, y1: 2, x2: .infinity, y2: 18, color: red, thickness: 3)
    // The left and right edges lie off the canvas; top and bottom strokes cross it.
    let topAndBottom = [canvas.pixel(0, 2), canvas.pixel(19, 4), canvas.pixel(0, 15), canvas.pixel(19, 17)]
    #expect(topAndBottom.allSatisfy { $0 == red })
    #expect(canvas.pixel(0, 10) == .white)
    #expect(canvas.pixel(19, 10) == .white)
    #expect(canvas.image.count(of: red) == 20 * 6)
  }

  @Test(arguments: [
    (Double.nan, 0.0, 10.0, 10.0), (0, 0, .infinity, .infinity), (-.infinity, -.infinity, 5, 5),
    (1e300, 1e300, -1e300, -1e300), (100, 100, 200, 200), (-20, -20, -10, -10), (5, 5, 5, 5),
    (Double.greatestFiniteMagnitude, 0, -Double.greatestFiniteMagnitude, 3),
  ])
  func oddRectanglesNeverTrap(box: (Double, Double, Double, Double)) {
    var canvas = Canvas(width: 16, height: 12)
    canvas.drawRectangle(x1: box.0, y1: box.1, x2: box.2, y2: box.3, color: red, thickness: 2)
    canvas.drawRectangle(x1: box.0, y1: box.1, x2: box.2, y2: box.3, color: red, thickness: Int.max)
    canvas.drawRectangle(x1: box.0, y1: box.1, x2: box.2, y2: box.3, color: red, thickness: -3)
    canvas.fillRectangle(x1: box.0, y1: box.1, x2: box.2, y2: box.3, color: blue, opacity: .nan)
    canvas.fillRectangle(x1: box.0, y1: box.1, x2: box.2, y2: box.3, color: blue, opacity: 7)
    canvas.drawLine(from: (box.0, box.1), to: (box.2, box.3), color: red, thickness: 5)
    canvas.drawLine(from: (box.0, box.1), to: (box.2, box.3), color: red, thickness: 1)
    #expect(canvas.image.pixels.count == 16 * 12 * 3)
  }

  @Test func fillBlendsAtTheGivenOpacity() {
    var canvas = Canvas(width: 10, height: 10, background: .black)
    canvas.fillRectangle(x1: 2, y1: 2, x2: 6, y2: 6, color: .white, opacity: 0.5)
    #expect(canvas.pixel(3, 3) == RGB(r: 128, g: 128, b: 128))
    #expect(canvas.pixel(6, 6) == .black)
    #expect(canvas.image.count(of: RGB(r: 128, g: 128, b: 128)) == 16)
  }

  @Test func thickLinesCoverTheirWidth() {
    var canvas = Canvas(width: 40, height: 40)
    canvas.drawLine(from: (x: 5, y: 20), to: (x: 35, y: 20), color: red, thickness: 6)
    let column = (0..<40).filter { canvas.pixel(20, $0) == red }
    #expect(column == Array(17...22))
    #expect(canvas.pixel(2, 20) == red)  // round cap
    #expect(canvas.pixel(1, 20) != red)
    #expect(canvas.pixel(38, 20) != red)
  }

  @Test func thinLinesJoinTheirEnds() {
    var canvas = Canvas(width: 30, height: 30)
    canvas.drawLine(from: (x: 2.5, y: 3.5), to: (x: 25.5, y: 17.5), color: red)
    #expect(canvas.pixel(2, 3) == red)
    #expect(canvas.pixel(25, 17) == red)
    // A Bresenham line has one pixel per step along its longer axis.
    #expect(canvas.image.count(of: red) == 24)
  }

  @Test func maskBlendingChangesExactlyTheMaskPixels() {
    let image = Image(width: 8, height: 6, filledWith: [10, 20, 30])
    var canvas = Canvas(image)
    var mask = [UInt8](repeating: 0, count: 48)
    for index in [0, 9, 10, 47] { mask[index] = 1 }
    canvas.blendMask(mask, color: .white, opacity: 0.5)
    let changed = canvas.image.pixels { $0 != RGB(r: 10, g: 20, b: 30) }.map { $0.y * 8 + $0.x }
    #expect(changed == [0, 9, 10, 47])
    #expect(canvas.pixel(1, 1) == RGB(r: 133, g: 138, b: 143))
  }

  @Test func grayAndRGBAImagesBecomeRGB() {
    let gray = Canvas(Image(width: 3, height: 2, filledWith: [77]))
    let rgba = Canvas(Image(width: 3, height: 2, filledWith: [1, 2, 3, 4]))
    #expect(gray.image.channels == 3)
    #expect(gray.pixel(2, 1) == RGB(r: 77, g: 77, b: 77))
    #expect(rgba.pixel(0, 0) == RGB(r: 1, g: 2, b: 3))
  }

  @Test func pngRoundTripsThroughTheCodec() throws {
    var canvas = Canvas(width: 24, height: 16, background: RGB(r: 3, g: 90, b: 200))
    canvas.drawRectangle(x1: 2, y1: 2, x2: 20, y2: 12, color: red)
    canvas.drawText("Ok", x: 4, y: 4, color: .white)
    let decoded = try ImageCodec.decode(canvas.pngData())
    #expect(decoded == canvas.image)
  }
}
