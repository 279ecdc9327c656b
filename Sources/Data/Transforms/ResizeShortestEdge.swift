/// Resizes so that the shorter side has a chosen length while the longer side stays within
/// `maxSize` (detectron2's `ResizeShortestEdge`, torchvision's `GeneralizedRCNNTransform`).
/// Several lengths give multi-scale training: one is drawn per image, from the list or from the
/// range between the first two.
public struct ResizeShortestEdge: Transform, Codable, Equatable {
  public enum Sampling: String, Sendable, Codable {
    /// One of `sizes`.
    case choice
    /// Any integer from `sizes[0]` to `sizes[1]`.
    case range
  }

  public var sizes: [Int]
  public var maxSize: Int
  public var sampling: Sampling

  public init(sizes: [Int], maxSize: Int = 1333, sampling: Sampling = .choice) {
    precondition(!sizes.isEmpty && sizes.allSatisfy { $0 > 0 }, "ResizeShortestEdge: sizes must be positive")
    precondition(sampling == .choice || sizes.count == 2, "ResizeShortestEdge: a range needs two sizes")
    self.sizes = sizes
    self.maxSize = maxSize
    self.sampling = sampling
  }

  public init(_ size: Int, maxSize: Int = 1333) {
    self.init(sizes: [size], maxSize: maxSize)
  }

  /// The output size for an image and a shorter-side length: scale computed in float32 and
  /// sizes floored, as torchvision does, so that boxes match its arithmetic.
  public static func outputSize(width: Int, height: Int, shortSide: Int, maxSize: Int) -> (width: Int, height: Int) {
    let scale = min(Float(shortSide) / Float(min(width, height)), Float(maxSize) / Float(max(width, height)))
    return (max(1, Int((Double(width) * Double(scale)).rounded(.down))), max(1, Int((Double(height) * Double(scale)).rounded(.down))))
  }

  public func apply(to sample: inout Sample, random: inout SeededRandom) {
    let shortSide: Int
    switch sampling {
    case .choice: shortSide = sizes.count == 1 ? sizes[0] : sizes[Int.random(in: 0..<sizes.count, using: &random)]
    case .range: shortSide = Int.random(in: min(sizes[0], sizes[1])...max(sizes[0], sizes[1]), using: &random)
    }
    let input = sample.nominalSize ?? (sample.image.width, sample.image.height)
    let size = Self.outputSize(width: input.width, height: input.height, shortSide: shortSide, maxSize: maxSize)
    sample.resize(width: size.width, height: size.height)
    sample.nominalSize = nil
  }
}

extension Sample {
  /// Resizes the image (bilinear), the boxes (scaled) and the masks (nearest) to `width x height`.
  public mutating func resize(width: Int, height: Int) {
    let sx = Float(width) / Float(image.width)
    let sy = Float(height) / Float(image.height)
    if width == image.width && height == image.height { return }
    let oldWidth = image.width
    let oldHeight = image.height
    image = image.resized(width: width, height: height)
    // Clipped because float rounding can put an edge box a hair outside the new image.
    boxes = boxes.map { Box(x1: $0.x1 * sx, y1: $0.y1 * sy, x2: $0.x2 * sx, y2: $0.y2 * sy).clipped(width: width, height: height) }
    if let current = masks {
      masks = current.map { resizeNearest($0, width: oldWidth, height: oldHeight, toWidth: width, toHeight: height) }
    }
    removeDegenerateInstances()
  }
}

/// Nearest-neighbour resize of one-byte-per-pixel data, sampling at pixel centres.
func resizeNearest(_ source: [UInt8], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
  let columns = (0..<toWidth).map { min(width - 1, Int((Double($0) + 0.5) * Double(width) / Double(toWidth))) }
  var output = [UInt8](repeating: 0, count: toWidth * toHeight)
  source.withUnsafeBufferPointer { input in
    output.withUnsafeMutableBufferPointer { out in
      columns.withUnsafeBufferPointer { columns in
        for y in 0..<toHeight {
          let sy = min(height - 1, Int((Double(y) + 0.5) * Double(height) / Double(toHeight)))
          let row = sy * width
          let base = y * toWidth
          for x in 0..<toWidth { out[base + x] = input[row + columns[x]] }
        }
      }
    }
  }
  return output
}
