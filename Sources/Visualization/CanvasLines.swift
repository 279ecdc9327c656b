extension Canvas {
  /// A straight line between two points, `thickness` pixels wide with round ends, so that
  /// polylines join without gaps. Lines with a NaN or infinite end are skipped; the rest is
  /// clipped to the canvas.
  public mutating func drawLine(
    from start: (x: Double, y: Double), to end: (x: Double, y: Double), color: RGB, thickness: Int = 1
  ) {
    let stroke = min(max(thickness, 1), max(width, height, 1))
    let pad = Double(stroke + 1)
    guard
      let segment = Self.clipped(
        start, end, minX: -pad, minY: -pad, maxX: Double(width) + pad, maxY: Double(height) + pad)
    else { return }
    let (a, b) = segment
    if stroke == 1 {
      drawThinLine(from: a, to: b, color: color)
    } else {
      drawThickLine(from: a, to: b, color: color, radius: Double(stroke) / 2)
    }
  }

  /// Bresenham's walk from the pixel holding `a` to the pixel holding `b`.
  private mutating func drawThinLine(from a: (x: Double, y: Double), to b: (x: Double, y: Double), color: RGB) {
    var x = Int(a.x.rounded(.down))
    var y = Int(a.y.rounded(.down))
    let endX = Int(b.x.rounded(.down))
    let endY = Int(b.y.rounded(.down))
    let dx = abs(endX - x)
    let dy = -abs(endY - y)
    let stepX = x < endX ? 1 : -1
    let stepY = y < endY ? 1 : -1
    var error = dx + dy
    while true {
      fillPixels(left: x, top: y, right: x, bottom: y, color: color, opacity: 1)
      if x == endX && y == endY { break }
      let doubled = 2 * error
      if doubled >= dy {
        error += dy
        x += stepX
      }
      if doubled <= dx {
        error += dx
        y += stepY
      }
    }
  }

  /// Every pixel whose centre lies within `radius` of the segment: a capsule. The work is
  /// bounded by the segment's box within the canvas, however thick the line.
  private mutating func drawThickLine(
    from a: (x: Double, y: Double), to b: (x: Double, y: Double), color: RGB, radius: Double
  ) {
    let left = max(Int((min(a.x, b.x) - radius).rounded(.down)), 0)
    let right = min(Int((max(a.x, b.x) + radius).rounded(.up)), width - 1)
    let top = max(Int((min(a.y, b.y) - radius).rounded(.down)), 0)
    let bottom = min(Int((max(a.y, b.y) + radius).rounded(.up)), height - 1)
    guard left <= right, top <= bottom else { return }
    let dx = b.x - a.x
    let dy = b.y - a.y
    let lengthSquared = dx * dx + dy * dy
    let radiusSquared = radius * radius
    for y in top...bottom {
      for x in left...right {
        let px = Double(x) + 0.5 - a.x
        let py = Double(y) + 0.5 - a.y
        let along = lengthSquared > 0 ? min(max((px * dx + py * dy) / lengthSquared, 0), 1) : 0
        let offX = px - along * dx
        let offY = py - along * dy
        if offX * offX + offY * offY <= radiusSquared {
          fillPixels(left: x, top: y, right: x, bottom: y, color: color, opacity: 1)
        }
      }
    }
  }

  /// The part of the segment inside the rectangle (Liang–Barsky), or nil when none is or an
  /// end is not finite. Clipping first keeps every later coordinate a small finite number.
  static func clipped(
    _ a: (x: Double, y: Double), _ b: (x: Double, y: Double),
    minX: Double, minY: Double, maxX: Double, maxY: Double
  ) -> ((x: Double, y: Double), (x: Double, y: Double))? {
    let dx = b.x - a.x
    let dy = b.y - a.y
    guard a.x.isFinite, a.y.isFinite, dx.isFinite, dy.isFinite else { return nil }
    var enter = 0.0
    var leave = 1.0
    let edges: [(p: Double, q: Double)] = [(-dx, a.x - minX), (dx, maxX - a.x), (-dy, a.y - minY), (dy, maxY - a.y)]
    for edge in edges {
      if edge.p == 0 {
        if edge.q < 0 { return nil }
        continue
      }
      let crossing = edge.q / edge.p
      if edge.p < 0 {
        if crossing > leave { return nil }
        enter = max(enter, crossing)
      } else {
        if crossing < enter { return nil }
        leave = min(leave, crossing)
      }
    }
    return ((a.x + enter * dx, a.y + enter * dy), (a.x + leave * dx, a.y + leave * dy))
  }
}
