import CImageCodecs
import Foundation

/// What a file holds, read from its header without decoding the pixels.
public struct ImageInfo: Sendable, Equatable {
  public let format: ImageFormat
  /// The displayed size: EXIF orientation already applied.
  public let width: Int
  public let height: Int
  /// The channels stored in the file (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
  public let channels: Int
  public let orientation: ExifOrientation
}

/// JPEG (TurboJPEG) and PNG (libpng) decoding and encoding. Every failure throws an
/// `ImageCodecError`.
public enum ImageCodec {
  /// The most pixels a decoded image may have: 2^29, a 23,170-pixel square (DOTA's largest
  /// images are 20,000 a side). A header is a few bytes and may claim 65,535 × 65,535 pixels or
  /// more, so decoding checks this before reserving the pixels' memory (at most 4 GiB: four
  /// 16-bit channels).
  public static let maximumPixelCount = 1 << 29

  /// The header of an image file: format, displayed size and stored channels.
  public static func info(_ data: Data) throws -> ImageInfo {
    guard let format = ImageFormat(sniffing: data) else {
      throw ImageCodecError(.unknownFormat, "not a JPEG or PNG file")
    }
    return try data.withUnsafeBytes { (raw) throws -> ImageInfo in
      let bytes = raw.bindMemory(to: UInt8.self)
      var w: Int32 = 0
      var h: Int32 = 0
      var c: Int32 = 0
      let status = try withMessage { message in
        format == .jpeg
          ? ci_jpeg_info(bytes.baseAddress, bytes.count, &w, &h, &c, message)
          : ci_png_info(bytes.baseAddress, bytes.count, &w, &h, &c, message)
      }
      _ = status
      let orientation = format == .jpeg ? ExifOrientation(jpeg: raw) ?? .up : .up
      let (width, height) = orientation.swapsAxes ? (Int(h), Int(w)) : (Int(w), Int(h))
      return ImageInfo(format: format, width: width, height: height, channels: Int(c), orientation: orientation)
    }
  }

  /// Decodes a JPEG or PNG file held in memory.
  ///
  /// - Parameters:
  ///   - channels: the channel count wanted (1 to 4), or nil for what the file stores.
  ///   - applyingOrientation: turn JPEGs upright as their EXIF orientation says, as cameras expect.
  ///   - minimumSize: for JPEGs, let TurboJPEG scale down in the DCT (by 1/2, 1/4, 1/8, ...) as long
  ///     as the displayed result still covers this size: a later resize to that size then loses
  ///     nothing, and decoding gets several times faster on large photos.
  public static func decode(
    _ data: Data, channels: Int? = nil, applyingOrientation: Bool = true,
    minimumSize: (width: Int, height: Int)? = nil
  ) throws -> Image {
    if let channels, !(1...4).contains(channels) {
      throw ImageCodecError(.invalidArgument, "\(channels) channels requested (1 to 4 supported)")
    }
    guard let format = ImageFormat(sniffing: data) else {
      throw ImageCodecError(.unknownFormat, "not a JPEG or PNG file")
    }
    return try data.withUnsafeBytes { (raw) throws -> Image in
      switch format {
      case .jpeg: try decodeJPEG(raw, channels: channels, applyingOrientation: applyingOrientation, minimumSize: minimumSize)
      case .png: try decodePNG(raw, channels: channels)
      }
    }
  }

  /// Reads and decodes an image file.
  public static func decode(
    contentsOf url: URL, channels: Int? = nil, applyingOrientation: Bool = true,
    minimumSize: (width: Int, height: Int)? = nil
  ) throws -> Image {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw ImageCodecError(.corrupt, "cannot read \(url.path): \(error.localizedDescription)")
    }
    return try decode(data, channels: channels, applyingOrientation: applyingOrientation, minimumSize: minimumSize)
  }

  /// JPEG bytes for `image` at `quality` (1...100), 4:2:0 chroma; alpha is dropped.
  public static func encodeJPEG(_ image: Image, quality: Int = 95) throws -> Data {
    guard (1...100).contains(quality) else { throw ImageCodecError(.invalidArgument, "JPEG quality \(quality) (1...100)") }
    let source = image.channels == 2 ? image.converted(toChannels: 1) : image
    return try encode { output, size, message in
      source.pixels.withUnsafeBufferPointer {
        ci_jpeg_encode($0.baseAddress, Int32(source.width), Int32(source.height), Int32(source.channels), Int32(quality), output, size, message)
      }
    }
  }

  /// Lossless PNG bytes for `image`.
  public static func encodePNG(_ image: Image) throws -> Data {
    try encode { output, size, message in
      image.pixels.withUnsafeBufferPointer {
        ci_png_encode($0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels), output, size, message)
      }
    }
  }

  /// `encodeJPEG` or `encodePNG`.
  public static func encode(_ image: Image, as format: ImageFormat, quality: Int = 95) throws -> Data {
    switch format {
    case .jpeg: try encodeJPEG(image, quality: quality)
    case .png: try encodePNG(image)
    }
  }

  /// The bits per sample a PNG file stores (1, 2, 4, 8 or 16; 8 for palette images); JPEG files
  /// are 8.
  public static func bitDepth(_ data: Data) throws -> Int {
    guard let format = ImageFormat(sniffing: data) else { throw ImageCodecError(.unknownFormat, "not a JPEG or PNG file") }
    guard format == .png else { return 8 }
    var depth: Int32 = 0
    try data.withUnsafeBytes { raw in
      let bytes = raw.bindMemory(to: UInt8.self)
      try withMessage { ci_png_depth(bytes.baseAddress, bytes.count, &depth, $0) }
    }
    return Int(depth)
  }

  /// Decodes a PNG file keeping 16 bits per sample (every bit of a 16-bit file; lower depths
  /// scaled up, an 8-bit value v becoming v * 257), converting to `channels` (1 to 4; nil: what
  /// the file stores) as `decode` does. JPEG files are refused: they hold 8 bits.
  public static func decode16(_ data: Data, channels requested: Int? = nil) throws -> Image16 {
    if let requested, !(1...4).contains(requested) {
      throw ImageCodecError(.invalidArgument, "\(requested) channels requested (1 to 4 supported)")
    }
    guard ImageFormat(sniffing: data) == .png else { throw ImageCodecError(.unknownFormat, "not a PNG file (16-bit decoding reads PNG)") }
    return try data.withUnsafeBytes { raw in
      let (w, h, channels, samples) = try decodedPNGSamples(raw, channels: requested, as: UInt16.self) {
        ci_png_decode16($0, $1, $2, $3, $4, $5, $6)
      }
      return Image16(width: w, height: h, channels: channels, samples: samples)
    }
  }

  /// Reads and decodes a PNG file with 16 bits per sample (see `decode16(_:channels:)`).
  public static func decode16(contentsOf url: URL, channels: Int? = nil) throws -> Image16 {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw ImageCodecError(.corrupt, "cannot read \(url.path): \(error.localizedDescription)")
    }
    return try decode16(data, channels: channels)
  }

  /// Lossless 16-bit PNG bytes for `image`.
  public static func encodePNG16(_ image: Image16) throws -> Data {
    try encode { output, size, message in
      image.samples.withUnsafeBufferPointer {
        ci_png_encode16($0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels), output, size, message)
      }
    }
  }

  private static func decodeJPEG(
    _ raw: UnsafeRawBufferPointer, channels requested: Int?, applyingOrientation: Bool,
    minimumSize: (width: Int, height: Int)?
  ) throws -> Image {
    let bytes = raw.bindMemory(to: UInt8.self)
    var w: Int32 = 0
    var h: Int32 = 0
    var stored: Int32 = 0
    try withMessage { ci_jpeg_info(bytes.baseAddress, bytes.count, &w, &h, &stored, $0) }
    try checkPixelCount(width: w, height: h, format: "JPEG")
    let orientation = applyingOrientation ? ExifOrientation(jpeg: raw) ?? .up : .up
    var outWidth = w
    var outHeight = h
    if let minimumSize {
      // The minimum is for the displayed picture; the decoder works on the stored one.
      let (mw, mh) = orientation.swapsAxes ? (minimumSize.height, minimumSize.width) : (minimumSize.width, minimumSize.height)
      ci_jpeg_scaled_size(w, h, Int32(clamping: mw), Int32(clamping: mh), &outWidth, &outHeight)
    }
    let wanted = requested ?? Int(stored)
    let decodeChannels = wanted >= 3 ? 3 : 1
    let count = Int(outWidth) * Int(outHeight) * decodeChannels
    var failure: ImageCodecError?
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      do {
        try withMessage { ci_jpeg_decode(bytes.baseAddress, bytes.count, buffer.baseAddress, outWidth, outHeight, Int32(decodeChannels), $0) }
        initialized = count
      } catch {
        failure = error as? ImageCodecError ?? ImageCodecError(.corrupt, "\(error)")
        initialized = 0
      }
    }
    if let failure { throw failure }
    var image = Image(width: Int(outWidth), height: Int(outHeight), channels: decodeChannels, pixels: pixels)
    if wanted != decodeChannels { image = image.converted(toChannels: wanted) }
    return image.oriented(orientation)
  }

  private static func decodePNG(_ raw: UnsafeRawBufferPointer, channels requested: Int?) throws -> Image {
    let (w, h, channels, pixels) = try decodedPNGSamples(raw, channels: requested, as: UInt8.self) {
      ci_png_decode($0, $1, $2, $3, $4, $5, $6)
    }
    return Image(width: w, height: h, channels: channels, pixels: pixels)
  }

  /// A PNG's size and its samples at `channels` (nil: what the file stores), decoded by
  /// `decode` (libpng's 8- or 16-bit path: file bytes, their count, output, width, height,
  /// channels, message buffer).
  private static func decodedPNGSamples<Sample: FixedWidthInteger>(
    _ raw: UnsafeRawBufferPointer, channels requested: Int?, as: Sample.Type,
    decode: (
      UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<Sample>?, Int32, Int32, Int32, UnsafeMutablePointer<CChar>
    ) -> Int32
  ) throws -> (width: Int, height: Int, channels: Int, samples: [Sample]) {
    let bytes = raw.bindMemory(to: UInt8.self)
    var w: Int32 = 0
    var h: Int32 = 0
    var stored: Int32 = 0
    try withMessage { ci_png_info(bytes.baseAddress, bytes.count, &w, &h, &stored, $0) }
    try checkPixelCount(width: w, height: h, format: "PNG")
    let channels = requested ?? Int(stored)
    let count = Int(w) * Int(h) * channels
    var failure: ImageCodecError?
    let samples = [Sample](unsafeUninitializedCapacity: count) { buffer, initialized in
      do {
        try withMessage { decode(bytes.baseAddress, bytes.count, buffer.baseAddress, w, h, Int32(channels), $0) }
        initialized = count
      } catch {
        failure = error as? ImageCodecError ?? ImageCodecError(.corrupt, "\(error)")
        initialized = 0
      }
    }
    if let failure { throw failure }
    return (Int(w), Int(h), channels, samples)
  }

  private static func encode(
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32
  ) throws -> Data {
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    try withMessage { body(&output, &size, $0) }
    guard let output else { throw ImageCodecError(.outOfMemory, "the encoder returned no buffer") }
    return Data(bytesNoCopy: output, count: size, deallocator: .custom { pointer, _ in ci_free(pointer) })
  }

  private static func checkPixelCount(width: Int32, height: Int32, format: String) throws {
    guard width >= 0, height >= 0 else {
      throw ImageCodecError(.corrupt, "\(format) header claims \(width)×\(height) pixels")
    }
    guard Int(width) * Int(height) <= maximumPixelCount else {
      throw ImageCodecError(
        .tooLarge, "\(format) header claims \(width)×\(height) pixels, more than the \(maximumPixelCount)-pixel limit")
    }
  }

  /// Runs a shim call with a message buffer and turns a failure status into an error.
  @discardableResult
  private static func withMessage(_ call: (UnsafeMutablePointer<CChar>) -> Int32) throws -> Int32 {
    var buffer = [CChar](repeating: 0, count: Int(CI_MESSAGE_CAPACITY))
    let status = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!) }
    guard status != Int32(CI_OK) else { return status }
    let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let kind: ImageCodecError.Kind =
      switch status {
      case Int32(CI_ERROR_ARGUMENT): .invalidArgument
      case Int32(CI_ERROR_MEMORY): .outOfMemory
      default: .corrupt
      }
    throw ImageCodecError(kind, message.isEmpty ? "the codec failed (status \(status))" : message)
  }
}
