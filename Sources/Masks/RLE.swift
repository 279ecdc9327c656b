/// A binary mask stored as COCO's run-length encoding.
///
/// Runs are counted over the pixels in column-major order (down each column, then across),
/// alternating background and foreground and starting with background, so a mask whose first
/// pixel is set starts with a zero-length run. This is the layout of COCO's `segmentation`
/// objects, which is why it is kept rather than a row-major one: a mask read from a file or
/// written to one needs no conversion.
public struct RLE: Hashable, Sendable {
  public let height: Int
  public let width: Int
  /// Run lengths, background first. Their sum is `height * width` for a well-formed mask.
  public var counts: [UInt32]

  public init(height: Int, width: Int, counts: [UInt32]) {
    precondition(height >= 0 && width >= 0, "RLE size must not be negative")
    self.height = height
    self.width = width
    self.counts = counts
  }

  /// Whether the runs cover the image exactly; masks from files are checked with this before use,
  /// because the run-walking operations assume it.
  public var coversImage: Bool {
    // A file may claim a size whose pixel count is beyond Int (2^32 × 2^32 crashed both COCO
    // readers' fuzz harnesses): no runs cover that.
    let (pixels, overflow) = height.multipliedReportingOverflow(by: width)
    guard !overflow else { return false }
    var total = 0
    for count in counts { total += Int(count) }
    return total == pixels
  }

  /// The number of foreground pixels.
  public var area: Int {
    var total = 0
    var index = 1
    while index < counts.count {
      total += Int(counts[index])
      index += 2
    }
    return total
  }
}

/// How a flat pixel buffer is laid out.
public enum PixelOrder: Sendable {
  /// Down each column first (COCO's and Fortran's order).
  case columnMajor
  /// Across each row first (C's and most image libraries' order).
  case rowMajor
}

extension RLE {
  /// Encodes a binary mask; any non-zero pixel is foreground.
  public init(mask: [UInt8], height: Int, width: Int, order: PixelOrder = .columnMajor) {
    precondition(mask.count == height * width, "mask has \(mask.count) pixels, not \(height)×\(width)")
    var counts: [UInt32] = []
    counts.reserveCapacity(16)
    var current: UInt8 = 0
    var run: UInt32 = 0
    mask.withUnsafeBufferPointer { pixels in
      for column in 0..<width {
        for row in 0..<height {
          let index = order == .columnMajor ? column * height + row : row * width + column
          let value: UInt8 = pixels[index] != 0 ? 1 : 0
          if value != current {
            counts.append(run)
            run = 0
            current = value
          }
          run += 1
        }
      }
    }
    counts.append(run)
    self.init(height: height, width: width, counts: counts)
  }

  /// The mask as 0/1 pixels. Runs past the image end are cut off and a short run list leaves the
  /// remaining pixels at 0, so a malformed mask never reads or writes out of bounds.
  public func decoded(order: PixelOrder = .columnMajor) -> [UInt8] {
    let total = height * width
    var pixels = [UInt8](repeating: 0, count: total)
    pixels.withUnsafeMutableBufferPointer { out in
      var position = 0
      var value: UInt8 = 0
      for count in counts {
        let end = min(position + Int(count), total)
        if value == 1 {
          for index in position..<end {
            if order == .columnMajor {
              out[index] = 1
            } else {
              let column = index / height
              let row = index - column * height
              out[row * width + column] = 1
            }
          }
        }
        position = end
        value ^= 1
      }
    }
    return pixels
  }
}
