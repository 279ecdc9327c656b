/// Cuts a random window out of the image (detectron2's `RandomCrop` with a relative size range).
/// Boxes are clipped to the window (or, with masks, made tight around the cut masks); an
/// instance whose box keeps less than
/// `minimumBoxFraction` of its area, or ends up empty, is dropped with its mask.
public struct RandomCrop: Transform, Codable, Equatable {
  /// The window's sides as fractions of the image's, drawn per image (height and width apart).
  public var relativeSize: ClosedRange<Double>
  public var probability: Double
  public var minimumBoxFraction: Double

  public init(relativeSize: ClosedRange<Double> = 0.6...1.0, probability: Double = 1, minimumBoxFraction: Double = 0.25) {
    precondition(relativeSize.lowerBound > 0 && relativeSize.upperBound <= 1, "RandomCrop: relative size must be in (0, 1]")
    self.relativeSize = relativeSize
    self.probability = probability
    self.minimumBoxFraction = minimumBoxFraction
  }

  public func apply(to sample: inout Sample, random: inout SeededRandom) {
    let apply = random.chance(probability)
    let fw = random.uniform(relativeSize)
    let fh = random.uniform(relativeSize)
    let ux = random.unit()
    let uy = random.unit()
    guard apply else { return }
    let w = max(1, Int((Double(sample.image.width) * fw).rounded()))
    let h = max(1, Int((Double(sample.image.height) * fh).rounded()))
    let x = Int(ux * Double(sample.image.width - w + 1))
    let y = Int(uy * Double(sample.image.height - h + 1))
    sample.crop(x: x, y: y, width: w, height: h, minimumBoxFraction: Float(minimumBoxFraction))
  }
}

extension Sample {
  /// Keeps the window `x ..< x + width`, `y ..< y + height`; boxes move into its coordinates and
  /// are clipped; instances keeping less than `minimumBoxFraction` of their box are dropped.
  public mutating func crop(x: Int, y: Int, width: Int, height: Int, minimumBoxFraction: Float = 0) {
    let oldWidth = image.width
    image = image.cropped(x: x, y: y, width: width, height: height)
    let dx = Float(x)
    let dy = Float(y)
    var keep: [Bool] = []
    boxes = boxes.map { box in
      let moved = Box(x1: box.x1 - dx, y1: box.y1 - dy, x2: box.x2 - dx, y2: box.y2 - dy)
      let clipped = moved.clipped(width: width, height: height)
      keep.append(clipped.isNonDegenerate() && clipped.area >= minimumBoxFraction * box.area)
      return clipped
    }
    if let current = masks {
      masks = current.map { mask in
        Image(width: oldWidth, height: mask.count / max(oldWidth, 1), channels: 1, pixels: mask)
          .cropped(x: x, y: y, width: width, height: height).pixels
      }
      // A clipped box is loose around a cut non-rectangular shape: the mask knows better.
      for (i, mask) in masks!.enumerated() where keep[i] {
        if let tight = tightBox(of: mask, width: width, height: height) { boxes[i] = tight } else { keep[i] = false }
      }
    }
    // Mark dropped instances degenerate so one function removes box, label and mask together.
    for (i, kept) in keep.enumerated() where !kept { boxes[i] = Box(x1: 0, y1: 0, x2: 0, y2: 0) }
    removeDegenerateInstances()
  }
}

/// The smallest box holding every non-zero pixel (in pixel edges), or nil for an empty mask.
func tightBox(of mask: [UInt8], width: Int, height: Int) -> Box? {
  var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
  mask.withUnsafeBufferPointer { m in
    for y in 0..<height {
      let row = y * width
      for x in 0..<width where m[row + x] != 0 {
        if x < minX { minX = x }
        if x > maxX { maxX = x }
        if y < minY { minY = y }
        maxY = y
      }
    }
  }
  return maxX < 0 ? nil : Box(x1: Float(minX), y1: Float(minY), x2: Float(maxX + 1), y2: Float(maxY + 1))
}
