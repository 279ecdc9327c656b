import Data

/// One detection to draw: where it is, which class (for the colour), what to write, and
/// optionally its instance mask.
public struct DrawnDetection: Sendable {
  /// Corners in the picture's pixel coordinates (x1, y1 top-left; x2, y2 bottom-right).
  public var box: (x1: Double, y1: Double, x2: Double, y2: Double)
  /// Picks the colour through `Palette.color(forClass:)`, so one class looks the same in
  /// every picture.
  public var classIndex: Int
  /// Text written above the box, for example "circle 0.97"; empty for none.
  public var label: String
  /// One byte per picture pixel, row by row, non-zero inside the object; nil for none.
  public var mask: [UInt8]?

  public init(
    box: (x1: Double, y1: Double, x2: Double, y2: Double), classIndex: Int, label: String, mask: [UInt8]? = nil
  ) {
    self.box = box
    self.classIndex = classIndex
    self.label = label
    self.mask = mask
  }
}

/// Detections drawn over their image, for looking at what a model found.
public enum DetectionPicture {
  /// Opacity of instance masks: the object stays visible under its colour.
  public static let maskOpacity = 0.45
  /// Width of box outlines in pixels.
  public static let boxThickness = 2

  /// `image` (converted to RGB) with every detection's mask, box and label drawn on it.
  ///
  /// All masks go down first, then all boxes, then all labels, so that no box or mask hides
  /// another detection's label. A label sits on a box of the class colour just above the
  /// detection's top-left corner, or inside the box when there is no room above; its text is
  /// black or white, whichever reads better on that colour. Masks of the wrong size are
  /// skipped rather than trapping, since a picture is a side product of a run.
  ///
  /// - Parameter scale: text scale; nil picks 1 for pictures up to 600 pixels and 2 above, so
  ///   labels stay readable when large pictures are viewed shrunk to fit a screen.
  public static func render(_ image: Image, detections: [DrawnDetection], scale: Int? = nil) -> Image {
    var canvas = Canvas(image)
    let textScale = scale ?? (max(image.width, image.height) > 600 ? 2 : 1)
    for detection in detections {
      guard let mask = detection.mask, mask.count == canvas.width * canvas.height else { continue }
      canvas.blendMask(mask, color: Palette.color(forClass: detection.classIndex), opacity: maskOpacity)
    }
    for detection in detections {
      let box = detection.box
      canvas.drawRectangle(
        x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2, color: Palette.color(forClass: detection.classIndex),
        thickness: boxThickness)
    }
    for detection in detections where !detection.label.isEmpty {
      drawLabel(of: detection, on: &canvas, scale: textScale)
    }
    return canvas.image
  }

  private static func drawLabel(of detection: DrawnDetection, on canvas: inout Canvas, scale: Int) {
    let box = detection.box
    let left = min(box.x1, box.x2)
    let top = min(box.y1, box.y2)
    guard left.isFinite, top.isFinite else { return }
    // Clamping before converting keeps far-away boxes from overflowing Int; drawLabel then
    // pulls the label fully onto the canvas.
    let x = Int(min(max(left, -1), Double(canvas.width)).rounded())
    let y = Int(min(max(top, -1), Double(canvas.height)).rounded())
    let size = Canvas.labelSize(detection.label, scale: scale)
    let labelTop = y - size.height >= 0 ? y - size.height : y
    let color = Palette.color(forClass: detection.classIndex)
    canvas.drawLabel(
      detection.label, x: x, y: labelTop, background: color, foreground: Palette.readableText(on: color),
      scale: scale)
  }
}
