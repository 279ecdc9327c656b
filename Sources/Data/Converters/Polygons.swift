/// Plane polygons as flat `[x0, y0, x1, y1, ...]` lists (COCO's layout): area, bounds and
/// clipping to a rectangle, for formats whose objects are polygons (DOTA's quadrilaterals).
enum Polygons {
  /// The enclosed area (shoelace formula; the absolute value, whichever way the vertices turn).
  static func area(_ polygon: [Double]) -> Double {
    let n = polygon.count / 2
    guard n >= 3 else { return 0 }
    var twice = 0.0
    for i in 0..<n {
      let j = (i + 1) % n
      twice += polygon[2 * i] * polygon[2 * j + 1] - polygon[2 * j] * polygon[2 * i + 1]
    }
    return abs(twice) / 2
  }

  /// The smallest axis-aligned box holding every vertex.
  static func bounds(_ polygon: [Double]) -> Box {
    let xs = stride(from: 0, to: polygon.count, by: 2).map { polygon[$0] }
    let ys = stride(from: 1, to: polygon.count, by: 2).map { polygon[$0] }
    return Box(x1: Float(xs.min() ?? 0), y1: Float(ys.min() ?? 0), x2: Float(xs.max() ?? 0), y2: Float(ys.max() ?? 0))
  }

  /// The part of `polygon` inside the rectangle `[x1, x2] x [y1, y2]` (Sutherland-Hodgman: exact
  /// for any simple polygon, since the rectangle is convex); empty when nothing is inside.
  static func clipped(_ polygon: [Double], x1: Double, y1: Double, x2: Double, y2: Double) -> [Double] {
    var points = stride(from: 0, to: polygon.count - 1, by: 2).map { (polygon[$0], polygon[$0 + 1]) }
    // Each edge of the rectangle as "inside" and the crossing point of a segment with it.
    let edges: [(inside: ((Double, Double)) -> Bool, cross: ((Double, Double), (Double, Double)) -> (Double, Double))] = [
      ({ $0.0 >= x1 }, { a, b in (x1, a.1 + (b.1 - a.1) * (x1 - a.0) / (b.0 - a.0)) }),
      ({ $0.0 <= x2 }, { a, b in (x2, a.1 + (b.1 - a.1) * (x2 - a.0) / (b.0 - a.0)) }),
      ({ $0.1 >= y1 }, { a, b in (a.0 + (b.0 - a.0) * (y1 - a.1) / (b.1 - a.1), y1) }),
      ({ $0.1 <= y2 }, { a, b in (a.0 + (b.0 - a.0) * (y2 - a.1) / (b.1 - a.1), y2) }),
    ]
    for edge in edges {
      guard let last = points.last else { break }
      var output: [(Double, Double)] = []
      var previous = last
      for point in points {
        let (now, before) = (edge.inside(point), edge.inside(previous))
        if now {
          if !before { output.append(edge.cross(previous, point)) }
          output.append(point)
        } else if before {
          output.append(edge.cross(previous, point))
        }
        previous = point
      }
      points = output
    }
    return points.flatMap { [$0.0, $0.1] }
  }
}
