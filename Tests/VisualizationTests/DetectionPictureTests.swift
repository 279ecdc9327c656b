import Data
import Testing
import Visualization

@Suite struct DetectionPictureTests {
  let gray = Image(width: 120, height: 80, filledWith: [128, 128, 128])

  @Test func boxAndLabelAboveItInTheClassColour() {
    let detection = DrawnDetection(box: (x1: 30, y1: 40, x2: 90, y2: 70), classIndex: 3, label: "circle 0.97")
    let picture = DetectionPicture.render(gray, detections: [detection])
    let color = Palette.color(forClass: 3)
    let label = Canvas.labelSize("circle 0.97")
    #expect(picture.channels == 3)
    #expect(picture.rgb(x: 30, y: 55) == color)  // left edge
    #expect(picture.rgb(x: 31, y: 55) == color)  // 2 pixels thick
    #expect(picture.rgb(x: 32, y: 55) == RGB(r: 128, g: 128, b: 128))
    // The label box ends on the row just above the box.
    #expect(picture.rgb(x: 30, y: 39) == color)
    #expect(picture.rgb(x: 30, y: 40 - label.height) == color)
    #expect(picture.rgb(x: 30, y: 39 - label.height) == RGB(r: 128, g: 128, b: 128))
    let text = Palette.readableText(on: color)
    let textPixels = picture.pixels { $0 == text }
    let textAboveBox = textPixels.allSatisfy { $0.y < 40 && $0.y >= 40 - label.height }
    #expect(!textPixels.isEmpty)
    #expect(textAboveBox)
  }

  @Test func labelGoesInsideWhenThereIsNoRoomAbove() {
    let detection = DrawnDetection(box: (x1: 100, y1: 2, x2: 119, y2: 60), classIndex: 0, label: "square 0.5")
    let picture = DetectionPicture.render(gray, detections: [detection])
    let color = Palette.color(forClass: 0)
    let label = Canvas.labelSize("square 0.5")
    // Too wide to start at x 100, so it is pulled left to end at the picture's right edge.
    #expect(picture.rgb(x: 119, y: 2) == color)
    #expect(picture.rgb(x: 120 - label.width, y: 2 + label.height - 1) == color)
    #expect(picture.rgb(x: 119 - label.width, y: 3) == RGB(r: 128, g: 128, b: 128))
  }

  @Test func masksAreBlendedUnderTheBoxes() {
    var mask = [UInt8](repeating: 0, count: 120 * 80)
    for y in 20..<30 { for x in 20..<30 { mask[y * 120 + x] = 1 } }
    let detection = DrawnDetection(box: (x1: 10, y1: 10, x2: 40, y2: 40), classIndex: 1, label: "", mask: mask)
    let picture = DetectionPicture.render(gray, detections: [detection])
    let plain = RGB(r: 128, g: 128, b: 128)
    let color = Palette.color(forClass: 1)
    let tinted = picture.rgb(x: 25, y: 25)
    let expectedRed = UInt8((128 + (Double(color.r) - 128) * 0.45).rounded())
    #expect(tinted != plain)
    #expect(tinted.r == expectedRed)
    #expect(picture.rgb(x: 19, y: 25) == plain)
    #expect(picture.rgb(x: 30, y: 25) == plain)
    let changed = picture.pixels { $0 != plain }.count
    #expect(changed == 100 + (30 * 30 - 26 * 26))
  }

  @Test func wrongSizeMasksAndOddBoxesAreSkipped() {
    let detections = [
      DrawnDetection(box: (x1: .nan, y1: 0, x2: 5, y2: 5), classIndex: 0, label: "nan"),
      DrawnDetection(box: (x1: -.infinity, y1: -1e300, x2: .infinity, y2: 1e300), classIndex: 1, label: "huge"),
      DrawnDetection(box: (x1: 500, y1: 500, x2: 600, y2: 600), classIndex: 2, label: "away", mask: [1, 0, 1]),
    ]
    let picture = DetectionPicture.render(gray, detections: detections)
    #expect(picture.width == 120)
    #expect(picture.height == 80)
  }

  @Test func largePicturesGetLargerText() {
    let detection = DrawnDetection(box: (x1: 100, y1: 100, x2: 300, y2: 300), classIndex: 0, label: "x")
    let color = Palette.color(forClass: 0)
    let small = DetectionPicture.render(Image(width: 400, height: 400, filledWith: [0, 0, 0]), detections: [detection])
    let large = DetectionPicture.render(Image(width: 800, height: 400, filledWith: [0, 0, 0]), detections: [detection])
    let smallHeight = Canvas.labelSize("x", scale: 1).height
    let largeHeight = Canvas.labelSize("x", scale: 2).height
    #expect(small.rgb(x: 100, y: 100 - smallHeight) == color)
    #expect(small.rgb(x: 100, y: 99 - smallHeight) == .black)
    #expect(large.rgb(x: 100, y: 100 - largeHeight) == color)
    #expect(large.rgb(x: 100, y: 99 - largeHeight) == .black)
  }
}
