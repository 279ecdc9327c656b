/// An 8-bit image in memory: rows packed top to bottom, pixels interleaved (`HWC`), with 1 (gray),
/// 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels.
///
/// Pixels are a plain array, not a `Tensor`, so images cross threads freely: loader workers decode
/// and transform them and the consuming thread turns a batch into one tensor.
public struct Image: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public let channels: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0, "Image: negative size \(width)x\(height)")
    precondition((1...4).contains(channels), "Image: \(channels) channels (1 to 4 supported)")
    precondition(pixels.count == width * height * channels, "Image: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  /// An image filled with one colour (`value` has `channels` entries).
  public init(width: Int, height: Int, filledWith value: [UInt8]) {
    precondition((1...4).contains(value.count), "Image: \(value.count) channels (1 to 4 supported)")
    let count = width * height
    var pixels = [UInt8](repeating: 0, count: count * value.count)
    if value.allSatisfy({ $0 == value[0] }) {
      if value[0] != 0 { pixels = [UInt8](repeating: value[0], count: count * value.count) }
    } else {
      pixels.withUnsafeMutableBufferPointer { out in
        for i in 0..<count { for c in 0..<value.count { out[i * value.count + c] = value[c] } }
      }
    }
    self.init(width: width, height: height, channels: value.count, pixels: pixels)
  }

  /// The value of one channel of the pixel at column `x`, row `y`.
  public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt8 {
    get { pixels[(y * width + x) * channels + channel] }
    set { pixels[(y * width + x) * channels + channel] = newValue }
  }

  /// The same picture with `count` channels: gray is repeated into RGB, RGB is averaged with
  /// ITU-R 601 weights into gray, alpha is dropped or set opaque.
  public func converted(toChannels count: Int) -> Image {
    precondition((1...4).contains(count), "Image: \(count) channels (1 to 4 supported)")
    if count == channels { return self }
    let pixelCount = width * height
    let source = channels
    var output = [UInt8](repeating: 255, count: pixelCount * count)
    pixels.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        for i in 0..<pixelCount {
          let s = i * source
          let color: (UInt8, UInt8, UInt8)
          if source >= 3 {
            color = (input[s], input[s + 1], input[s + 2])
          } else {
            color = (input[s], input[s], input[s])
          }
          let alpha: UInt8 = source == 2 || source == 4 ? input[s + source - 1] : 255
          let d = i * count
          switch count {
          case 1, 2:
            let gray = (299 * Int(color.0) + 587 * Int(color.1) + 114 * Int(color.2) + 500) / 1000
            out[d] = UInt8(gray)
            if count == 2 { out[d + 1] = alpha }
          default:
            out[d] = color.0
            out[d + 1] = color.1
            out[d + 2] = color.2
            if count == 4 { out[d + 3] = alpha }
          }
        }
      }
    }
    return Image(width: width, height: height, channels: count, pixels: output)
  }
}

/// A 16-bit image in memory (PNG's 16-bit samples, such as DeepLesion's CT slices), laid out as
/// `Image`: rows packed top to bottom, 1 to 4 interleaved channels. `ImageCodec.decode16` reads
/// one; the loader works on 8-bit `Image`s, so 16-bit data is mapped to 8 bits before training
/// (DeepLesion's conversion windows Hounsfield units).
public struct Image16: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public let channels: Int
  public var samples: [UInt16]

  public init(width: Int, height: Int, channels: Int, samples: [UInt16]) {
    precondition(width >= 0 && height >= 0, "Image16: negative size \(width)x\(height)")
    precondition((1...4).contains(channels), "Image16: \(channels) channels (1 to 4 supported)")
    precondition(samples.count == width * height * channels, "Image16: \(samples.count) samples for \(width)x\(height)x\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.samples = samples
  }

  /// The value of one channel of the pixel at column `x`, row `y`.
  public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt16 {
    get { samples[(y * width + x) * channels + channel] }
    set { samples[(y * width + x) * channels + channel] = newValue }
  }
}
