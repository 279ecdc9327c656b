import Foundation

/// The geometry of one shapes image, generated from `(seed, index)`: size, background, and the
/// shapes with an owner map saying which shape (if any) each pixel shows.
struct ShapeScene {
  enum Kind: Int {
    case circle = 0
    case rectangle = 1
    case triangle = 2
  }

  struct Shape {
    let kind: Kind
    let color: (UInt8, UInt8, UInt8)
    /// The bounding square's corner and side (the shape's own extent is within it).
    let x: Double
    let y: Double
    let side: Double
    /// Rectangle aspect or triangle vertex offsets, in units of `side`.
    let parameters: (Double, Double, Double)

    var bounds: (x0: Int, y0: Int, x1: Int, y1: Int) { (Int(x), Int(y), Int((x + side).rounded(.up)), Int((y + side).rounded(.up))) }

    /// Whether the pixel whose centre is at `(px, py)` is inside the shape.
    func contains(_ px: Double, _ py: Double) -> Bool {
      let u = (px - x) / side
      let v = (py - y) / side
      switch kind {
      case .circle:
        let dx = u - 0.5
        let dy = v - 0.5
        return dx * dx + dy * dy <= 0.25
      case .rectangle:
        // parameters.0 is the height fraction, parameters.1 the vertical offset.
        return u >= 0 && u <= 1 && v >= parameters.1 && v <= parameters.1 + parameters.0
      case .triangle:
        let a = (parameters.0, 0.0)
        let b = (0.0, parameters.1)
        let c = (1.0, parameters.2)
        let d1 = (u - b.0) * (a.1 - b.1) - (a.0 - b.0) * (v - b.1)
        let d2 = (u - c.0) * (b.1 - c.1) - (b.0 - c.0) * (v - c.1)
        let d3 = (u - a.0) * (c.1 - a.1) - (c.0 - a.0) * (v - a.1)
        let hasNegative = d1 < 0 || d2 < 0 || d3 < 0
        let hasPositive = d1 > 0 || d2 > 0 || d3 > 0
        return !(hasNegative && hasPositive)
      }
    }
  }

  let index: Int
  let width: Int
  let height: Int
  let background: ((Double, Double, Double), (Double, Double, Double))
  /// The gradient direction, a unit vector.
  let direction: (Double, Double)
  let noiseSeed: UInt64
  private(set) var shapes: [Shape] = []
  /// `owner[y * width + x]`: the index of the shape shown there, or -1 for background.
  private(set) var owner: [Int8]

  init(configuration: ShapesDataset.Configuration, index: Int) {
    precondition(index >= 0 && index < configuration.imageCount, "ShapesDataset: index \(index) out of 0..<\(configuration.imageCount)")
    var random = SeededRandom(seed: configuration.seed, index)
    self.index = index
    width = Int.random(in: configuration.imageSides, using: &random)
    height = Int.random(in: configuration.imageSides, using: &random)
    func color(_ r: inout SeededRandom) -> (Double, Double, Double) { (r.uniform(0...255), r.uniform(0...255), r.uniform(0...255)) }
    let first = color(&random)
    // The second end of the gradient stays near the first, so the background reads as one colour
    // that shapes must stand out from.
    let second = (
      min(255, max(0, first.0 + random.uniform(-50...50))), min(255, max(0, first.1 + random.uniform(-50...50))),
      min(255, max(0, first.2 + random.uniform(-50...50)))
    )
    background = (first, second)
    let angle = random.uniform(0...(2 * Double.pi))
    direction = (cos(angle), sin(angle))
    noiseSeed = random.next()
    owner = [Int8](repeating: -1, count: width * height)

    let objectCount = Int.random(in: configuration.objectsPerImage, using: &random)
    var fullAreas: [Int] = []
    var visibleAreas: [Int] = []
    for _ in 0..<objectCount {
      for _ in 0..<30 {
        let shape = ShapeScene.randomShape(&random, configuration: configuration, width: width, height: height, background: background)
        if let area = tryPlacing(shape, fullAreas: fullAreas, visibleAreas: &visibleAreas, minimumVisible: configuration.minimumVisibleFraction) {
          fullAreas.append(area)
          break
        }
      }
    }
  }

  private static func randomShape(
    _ random: inout SeededRandom, configuration: ShapesDataset.Configuration, width: Int, height: Int,
    background: ((Double, Double, Double), (Double, Double, Double))
  ) -> Shape {
    let kind = Kind(rawValue: Int.random(in: 0...2, using: &random))!
    let side = Double(Int.random(in: configuration.objectSides, using: &random))
    let x = random.uniform(0...(Double(width) - side - 1))
    let y = random.uniform(0...(Double(height) - side - 1))
    // Far from both background colours in RGB, so every object is plainly visible.
    var color = (UInt8(0), UInt8(0), UInt8(0))
    for _ in 0..<50 {
      let candidate = (UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random))
      color = candidate
      let c = (Double(candidate.0), Double(candidate.1), Double(candidate.2))
      func distance(_ b: (Double, Double, Double)) -> Double { abs(c.0 - b.0) + abs(c.1 - b.1) + abs(c.2 - b.2) }
      if min(distance(background.0), distance(background.1)) > 180 { break }
    }
    let parameters: (Double, Double, Double)
    switch kind {
    case .circle:
      parameters = (0, 0, 0)
    case .rectangle:
      let fraction = random.uniform(0.45...1)
      parameters = (fraction, random.uniform(0...(1 - fraction)), 0)
    case .triangle:
      parameters = (random.uniform(0.1...0.9), random.uniform(0.75...1), random.uniform(0.75...1))
    }
    return Shape(kind: kind, color: color, x: x, y: y, side: side, parameters: parameters)
  }

  /// Paints `shape` on top when every shape, old and new, stays visible enough; returns its
  /// full area, or nil (changing nothing) when it would hide too much.
  private mutating func tryPlacing(_ shape: Shape, fullAreas: [Int], visibleAreas: inout [Int], minimumVisible: Double) -> Int? {
    let b = shape.bounds
    var covered: [Int] = []
    var stolen = [Int](repeating: 0, count: shapes.count)
    for y in max(0, b.y0)..<min(height, b.y1) {
      for x in max(0, b.x0)..<min(width, b.x1) where shape.contains(Double(x) + 0.5, Double(y) + 0.5) {
        let p = y * width + x
        covered.append(p)
        if owner[p] >= 0 { stolen[Int(owner[p])] += 1 }
      }
    }
    guard covered.count >= 16 else { return nil }
    for j in shapes.indices where Double(visibleAreas[j] - stolen[j]) < minimumVisible * Double(fullAreas[j]) {
      return nil
    }
    let id = Int8(shapes.count)
    for p in covered { owner[p] = id }
    for j in shapes.indices { visibleAreas[j] -= stolen[j] }
    visibleAreas.append(covered.count)
    shapes.append(shape)
    return covered.count
  }

  func record(fileName: String) -> DatasetRecord {
    var minX = [Int](repeating: Int.max, count: shapes.count)
    var minY = minX
    var maxX = [Int](repeating: -1, count: shapes.count)
    var maxY = maxX
    for y in 0..<height {
      for x in 0..<width {
        let o = Int(owner[y * width + x])
        guard o >= 0 else { continue }
        minX[o] = min(minX[o], x)
        maxX[o] = max(maxX[o], x)
        minY[o] = min(minY[o], y)
        maxY[o] = max(maxY[o], y)
      }
    }
    let instances = shapes.indices.map { i in
      // Pixel edges: a shape covering columns 3...7 spans x = 3 to x = 8.
      AnnotationInstance(
        box: Box(x1: Float(minX[i]), y1: Float(minY[i]), x2: Float(maxX[i] + 1), y2: Float(maxY[i] + 1)),
        label: shapes[i].kind.rawValue, annotationId: index * 100 + i + 1)
    }
    return DatasetRecord(imageId: index, fileName: fileName, width: width, height: height, instances: instances)
  }

  func instanceMasks() -> [[UInt8]] {
    var masks = [[UInt8]](repeating: [UInt8](repeating: 0, count: width * height), count: shapes.count)
    for p in owner.indices where owner[p] >= 0 { masks[Int(owner[p])][p] = 1 }
    return masks
  }

  func renderedImage() -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    let (a, b) = background
    // Project onto the gradient direction, normalised to 0...1 over the image.
    let span = abs(direction.0) * Double(width) + abs(direction.1) * Double(height)
    let offset = min(0, direction.0 * Double(width)) + min(0, direction.1 * Double(height))
    pixels.withUnsafeMutableBufferPointer { out in
      for y in 0..<height {
        for x in 0..<width {
          let p = y * width + x
          // A little deterministic noise everywhere, so the images are not flat-coloured.
          var h = noiseSeed ^ UInt64(p) &* 0x9E37_79B9_7F4A_7C15
          h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
          let noise = Double(Int(h >> 59)) - 16  // -16...15
          let color: (Double, Double, Double)
          let o = Int(owner[p])
          if o >= 0 {
            let c = shapes[o].color
            color = (Double(c.0), Double(c.1), Double(c.2))
          } else {
            let t = ((Double(x) * direction.0 + Double(y) * direction.1) - offset) / span
            color = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, a.2 + (b.2 - a.2) * t)
          }
          out[p * 3] = UInt8(min(255, max(0, color.0 + noise * 0.5)))
          out[p * 3 + 1] = UInt8(min(255, max(0, color.1 + noise * 0.5)))
          out[p * 3 + 2] = UInt8(min(255, max(0, color.2 + noise * 0.5)))
        }
      }
    }
    return Image(width: width, height: height, channels: 3, pixels: pixels)
  }
}
