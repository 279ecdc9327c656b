extension RLE {
  /// Rasterises one polygon, given as flat `x0, y0, x1, y1, …` pixel coordinates, exactly as
  /// pycocotools' `frPyObjects` does.
  ///
  /// COCO polygons are traced on a grid five times finer than the pixels, and a pixel is inside
  /// when its centre is; the column crossings of the traced outline become the run boundaries.
  /// Keeping the same arithmetic (C truncation toward zero, the same rounding offsets) matters:
  /// a pixel-level difference in a ground-truth mask moves mask AP.
  public init(polygon: [Double], height: Int, width: Int) {
    precondition(polygon.allSatisfy(\.isFinite), "polygon coordinates must be finite")
    self = polygon.withUnsafeBufferPointer { RLE.rasterize(polygon: $0, height: height, width: width) }
  }

  /// Rasterises the parts of one object and unites them, as COCO does for an annotation whose
  /// `segmentation` is a list of polygons.
  public init(polygons: [[Double]], height: Int, width: Int) {
    precondition(!polygons.isEmpty, "an object needs at least one polygon")
    let parts = polygons.map { RLE(polygon: $0, height: height, width: width) }
    self = parts.count == 1 ? parts[0] : RLE.union(parts)
  }

  /// The mask of a box, rasterised as the four-corner polygon (pycocotools' `frBbox`).
  public init(box: BoundingBox, height: Int, width: Int) {
    let x2 = box.x + box.width
    let y2 = box.y + box.height
    self.init(polygon: [box.x, box.y, box.x, y2, x2, y2, x2, box.y], height: height, width: width)
  }

  private static func rasterize(polygon xy: UnsafeBufferPointer<Double>, height: Int, width: Int) -> RLE {
    let scale = 5.0
    let cornerCount = xy.count / 2
    // Corners on the fine grid; C's (int) cast truncates toward zero, as Int(_:) does.
    var cornerX = [Int](repeating: 0, count: cornerCount + 1)
    var cornerY = [Int](repeating: 0, count: cornerCount + 1)
    for j in 0..<cornerCount {
      cornerX[j] = Int(scale * xy[2 * j] + 0.5)
      cornerY[j] = Int(scale * xy[2 * j + 1] + 0.5)
    }
    if cornerCount > 0 {
      cornerX[cornerCount] = cornerX[0]
      cornerY[cornerCount] = cornerY[0]
    }

    // Where the outline crosses into a new fine column that is a pixel centre, record the first
    // pixel row at or below the outline: that is where a run flips. The points of the outline
    // are visited as they are traced rather than stored, since their number grows with the
    // polygon's size on the grid, not the image's (coordinates of a few million allocated
    // gigabytes when fuzzing the results reader); the boundaries are at most one per column an
    // edge crosses.
    var boundaries: [UInt32] = []
    let lastColumn = Double(width) - 1
    var lastPoint: (u: Int, v: Int)?
    func visit(_ u: Int, _ v: Int) {
      defer { lastPoint = (u, v) }
      guard let (pu, pv) = lastPoint, u != pu else { return }
      var xd = Double(u < pu ? u : u - 1)
      xd = (xd + 0.5) / scale - 0.5
      if xd.rounded(.down) != xd || xd < 0 || xd > lastColumn { return }
      var yd = Double(v < pv ? v : pv)
      yd = (yd + 0.5) / scale - 0.5
      if yd < 0 {
        yd = 0
      } else if yd > Double(height) {
        yd = Double(height)
      }
      yd = yd.rounded(.up)
      boundaries.append(UInt32(truncatingIfNeeded: Int(xd) * height + Int(yd)))
    }

    // Every fine-grid point along each edge, walking along the edge's longer axis.
    for j in 0..<cornerCount {
      var xs = cornerX[j], xe = cornerX[j + 1], ys = cornerY[j], ye = cornerY[j + 1]
      let dx = abs(xe - xs), dy = abs(ys - ye)
      // Edges are always stepped from the lower end, then the points are visited in edge order.
      let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
      if flip {
        swap(&xs, &xe)
        swap(&ys, &ye)
      }
      if dx >= dy {
        // A zero-length edge has slope 0/0; its single point is never read back (its neighbours
        // share its column), so any row will do where C would convert a NaN.
        let slope = dx == 0 ? 0 : Double(ye - ys) / Double(dx)
        for d in 0...dx {
          let t = flip ? dx - d : d
          visit(t + xs, Int(Double(ys) + slope * Double(t) + 0.5))
        }
      } else {
        let slope = Double(xe - xs) / Double(dy)
        for d in 0...dy {
          let t = flip ? dy - d : d
          visit(Int(Double(xs) + slope * Double(t) + 0.5), t + ys)
        }
      }
    }
    boundaries.append(UInt32(truncatingIfNeeded: height * width))
    boundaries.sort()

    // Positions to run lengths; an empty run between two flips cancels them, so it is folded
    // into the previous run.
    var previous: UInt32 = 0
    for j in boundaries.indices {
      let position = boundaries[j]
      boundaries[j] = position &- previous
      previous = position
    }
    var counts: [UInt32] = [boundaries[0]]
    counts.reserveCapacity(boundaries.count)
    var j = 1
    while j < boundaries.count {
      if boundaries[j] > 0 {
        counts.append(boundaries[j])
        j += 1
      } else {
        j += 1
        if j < boundaries.count {
          counts[counts.count - 1] &+= boundaries[j]
          j += 1
        }
      }
    }
    return RLE(height: height, width: width, counts: counts)
  }
}
