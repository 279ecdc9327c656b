/// Mirrors the image left to right with probability `probability`, boxes and masks with it.
public struct RandomHorizontalFlip: Transform, Codable, Equatable {
  public var probability: Double

  public init(probability: Double = 0.5) {
    self.probability = probability
  }

  public func apply(to sample: inout Sample, random: inout SeededRandom) {
    // Always draw, so that the random stream after this step does not depend on the outcome.
    let flip = random.chance(probability)
    if flip { sample.flipHorizontally() }
  }
}

extension Sample {
  public mutating func flipHorizontally() {
    let w = Float(image.width)
    image = image.flippedHorizontally()
    boxes = boxes.map { Box(x1: w - $0.x2, y1: $0.y1, x2: w - $0.x1, y2: $0.y2) }
    if let current = masks {
      masks = current.map { Image(width: image.width, height: image.height, channels: 1, pixels: $0).flippedHorizontally().pixels }
    }
    isFlipped.toggle()
  }
}

extension Image {
  public func flippedHorizontally() -> Image {
    let c = channels
    let w = width
    let h = height
    let output = [UInt8](unsafeUninitializedCapacity: pixels.count) { buffer, initialized in
      let out = buffer.baseAddress!
      pixels.withUnsafeBufferPointer { inputBuffer in
        let input = inputBuffer.baseAddress!
        for y in 0..<h {
          let source = input + y * w * c
          let target = out + y * w * c
          if c == 3 {
            for x in 0..<w {
              let s = source + x &* 3
              let d = target + (w &- 1 &- x) &* 3
              d[0] = s[0]
              d[1] = s[1]
              d[2] = s[2]
            }
          } else if c == 1 {
            for x in 0..<w { target[w &- 1 &- x] = source[x] }
          } else {
            for x in 0..<w { for k in 0..<c { target[(w &- 1 &- x) &* c &+ k] = source[x &* c &+ k] } }
          }
        }
      }
      initialized = pixels.count
    }
    return Image(width: width, height: height, channels: channels, pixels: output)
  }

  /// The pixels inside `x ..< x + width`, `y ..< y + height`.
  public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> Image {
    precondition(x >= 0 && y >= 0 && cropWidth > 0 && cropHeight > 0 && x + cropWidth <= width && y + cropHeight <= height,
      "Image.cropped: \(cropWidth)x\(cropHeight) at (\(x), \(y)) outside \(width)x\(height)")
    let c = channels
    var output = [UInt8](repeating: 0, count: cropWidth * cropHeight * c)
    pixels.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        for row in 0..<cropHeight {
          let s = ((y + row) * width + x) * c
          let d = row * cropWidth * c
          for i in 0..<(cropWidth * c) { out[d + i] = input[s + i] }
        }
      }
    }
    return Image(width: cropWidth, height: cropHeight, channels: c, pixels: output)
  }
}
