/// The EXIF orientation tag (0x0112): how a camera's stored pixels must be turned to show the
/// picture upright. Values and meanings are those of the TIFF/EXIF specification.
public enum ExifOrientation: Int, Sendable, CaseIterable {
  case up = 1
  case upMirrored = 2
  case down = 3
  case downMirrored = 4
  /// Mirrored along the main diagonal (a transpose).
  case leftMirrored = 5
  /// Stored turned 90° counter-clockwise: displayed after a 90° clockwise turn.
  case right = 6
  /// Mirrored along the anti-diagonal (a transverse).
  case rightMirrored = 7
  /// Stored turned 90° clockwise: displayed after a 90° counter-clockwise turn.
  case left = 8

  /// Whether the displayed picture has width and height swapped relative to the stored pixels.
  public var swapsAxes: Bool { rawValue >= 5 }

  /// The orientation in a JPEG stream's APP1 Exif segment, or nil when there is none (or it is
  /// unreadable: a broken Exif block must not make an otherwise good image unusable).
  public init?(jpeg bytes: UnsafeRawBufferPointer) {
    guard let value = ExifOrientation.readTag(bytes), let orientation = ExifOrientation(rawValue: value) else {
      return nil
    }
    self = orientation
  }

  private static func readTag(_ b: UnsafeRawBufferPointer) -> Int? {
    guard b.count > 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
    var offset = 2
    while offset + 4 <= b.count {
      guard b[offset] == 0xFF else { return nil }
      let marker = b[offset + 1]
      if marker == 0xFF {  // fill byte
        offset += 1
        continue
      }
      // Markers without a length: SOI, EOI, RSTn, TEM.
      if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) {
        offset += 2
        continue
      }
      // Start of scan or end of image: no Exif comes after this.
      if marker == 0xDA || marker == 0xD9 { return nil }
      let length = Int(b[offset + 2]) << 8 | Int(b[offset + 3])
      let start = offset + 4
      let end = offset + 2 + length
      guard length >= 2, end <= b.count else { return nil }
      if marker == 0xE1, end - start >= 6,
        b[start] == 0x45, b[start + 1] == 0x78, b[start + 2] == 0x69, b[start + 3] == 0x66,  // "Exif"
        b[start + 4] == 0, b[start + 5] == 0
      {
        return readTIFF(UnsafeRawBufferPointer(rebasing: b[(start + 6)..<end]))
      }
      offset = end
    }
    return nil
  }

  private static func readTIFF(_ t: UnsafeRawBufferPointer) -> Int? {
    guard t.count >= 8 else { return nil }
    let little: Bool
    switch (t[0], t[1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ i: Int) -> Int? {
      guard i >= 0, i + 2 <= t.count else { return nil }
      return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
    }
    func u32(_ i: Int) -> Int? {
      guard let a = u16(i), let b = u16(i + 2) else { return nil }
      return little ? a | b << 16 : a << 16 | b
    }
    guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
    for entry in 0..<count {
      let e = ifd + 2 + entry * 12
      guard let tag = u16(e) else { return nil }
      if tag == 0x0112 {
        // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
        guard u16(e + 2) == 3, let value = u16(e + 8) else { return nil }
        return value
      }
    }
    return nil
  }
}

extension Image {
  /// The picture as it should be displayed when stored with `orientation`.
  public func oriented(_ orientation: ExifOrientation) -> Image {
    if orientation == .up { return self }
    let w = width
    let h = height
    let c = channels
    let outWidth = orientation.swapsAxes ? h : w
    let outHeight = orientation.swapsAxes ? w : h
    var output = [UInt8](repeating: 0, count: pixels.count)
    pixels.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        for oy in 0..<outHeight {
          for ox in 0..<outWidth {
            // The stored pixel shown at (ox, oy).
            let (sx, sy): (Int, Int)
            switch orientation {
            case .up: (sx, sy) = (ox, oy)
            case .upMirrored: (sx, sy) = (w - 1 - ox, oy)
            case .down: (sx, sy) = (w - 1 - ox, h - 1 - oy)
            case .downMirrored: (sx, sy) = (ox, h - 1 - oy)
            case .leftMirrored: (sx, sy) = (oy, ox)
            case .right: (sx, sy) = (oy, h - 1 - ox)
            case .rightMirrored: (sx, sy) = (w - 1 - oy, h - 1 - ox)
            case .left: (sx, sy) = (w - 1 - oy, ox)
            }
            let s = (sy * w + sx) * c
            let d = (oy * outWidth + ox) * c
            for k in 0..<c { out[d + k] = input[s + k] }
          }
        }
      }
    }
    return Image(width: outWidth, height: outHeight, channels: c, pixels: output)
  }
}
