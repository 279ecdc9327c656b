/// An axis-aligned box as COCO files write it: top-left corner, width and height, in pixels.
public struct BoundingBox: Hashable, Sendable {
  public var x: Double
  public var y: Double
  public var width: Double
  public var height: Double

  public init(x: Double, y: Double, width: Double, height: Double) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
  }

  /// Converts from corner form (`x1, y1, x2, y2`), the form detectors work in.
  public init(x1: Double, y1: Double, x2: Double, y2: Double) {
    self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
  }

  public var area: Double { width * height }

  /// `[x, y, width, height]`, the order of COCO's `bbox` arrays.
  public var coordinates: [Double] { [x, y, width, height] }
}

extension RLE {
  /// The tightest box around the foreground, in whole pixels.
  ///
  /// This follows pycocotools 2.0.x exactly, including its unsigned 32-bit arithmetic: an empty
  /// mask with fewer than two runs gives a zero box, while one with an explicit empty foreground
  /// run gives the wrapped-around width and height pycocotools reports.
  public var boundingBox: BoundingBox {
    let pairs = counts.count / 2 * 2
    if pairs == 0 || height == 0 { return BoundingBox(x: 0, y: 0, width: 0, height: 0) }
    let h = UInt32(truncatingIfNeeded: height)
    var minX = UInt32(truncatingIfNeeded: width)
    var minY = h
    var maxX: UInt32 = 0
    var maxY: UInt32 = 0
    var position: UInt32 = 0
    for index in 0..<pairs {
      let start = position
      let run = counts[index]
      position &+= run
      // Even runs are background; an empty foreground run marks nothing.
      if index % 2 == 0 || run == 0 { continue }
      let startRow = start % h
      let startColumn = (start - startRow) / h
      let endRow = (position &- 1) % h
      let endColumn = (position &- 1 &- endRow) / h
      minX = min(minX, startColumn)
      maxX = max(maxX, endColumn)
      if startColumn < endColumn {
        // A run that wraps into the next column touches every row.
        minY = 0
        maxY = h &- 1
      } else {
        minY = min(minY, startRow)
        maxY = max(maxY, endRow)
      }
    }
    return BoundingBox(
      x: Double(minX), y: Double(minY),
      width: Double(maxX &- minX &+ 1), height: Double(maxY &- minY &+ 1))
  }
}
