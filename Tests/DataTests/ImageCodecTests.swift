import Foundation
import Testing

@testable import Data

@Suite struct ImageCodecTests {
  func fixture(_ name: String) throws -> Data { try Data(contentsOf: fixtures.appendingPathComponent(name)) }

  func gradient(width: Int, height: Int, channels: Int) -> Image {
    var pixels: [UInt8] = []
    for y in 0..<height { for x in 0..<width { for c in 0..<channels { pixels.append(UInt8((x * 7 + y * 13 + c * 50) % 256)) } } }
    return Image(width: width, height: height, channels: channels, pixels: pixels)
  }

  @Test(arguments: [1, 2, 3, 4]) func pngRoundTripIsExact(channels: Int) throws {
    let image = gradient(width: 37, height: 21, channels: channels)
    let data = try ImageCodec.encodePNG(image)
    #expect(ImageFormat(sniffing: data) == .png)
    #expect(try ImageCodec.decode(data) == image)
    let info = try ImageCodec.info(data)
    #expect(info.width == 37 && info.height == 21 && info.channels == channels && info.format == .png)
  }

  @Test(arguments: [1, 3]) func jpegRoundTripIsClose(channels: Int) throws {
    // Smooth content: JPEG at quality 95 stays within a few levels.
    var image = Image(width: 64, height: 48, filledWith: channels == 1 ? [90] : [200, 120, 40])
    for y in 0..<48 { for x in 0..<64 { for c in 0..<channels { image[x: x, y: y, channel: c] = UInt8(60 + x + y) } } }
    let data = try ImageCodec.encodeJPEG(image, quality: 95)
    #expect(ImageFormat(sniffing: data) == .jpeg)
    let decoded = try ImageCodec.decode(data)
    #expect(decoded.width == 64 && decoded.height == 48 && decoded.channels == channels)
    let worst = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max()!
    #expect(worst <= 6)
  }

  @Test func convertsChannelsOnRequest() throws {
    let gray = try ImageCodec.decode(try fixture("gray.png"))
    #expect(gray.channels == 1 && gray.width == 5 && gray.height == 3)
    #expect(Array(gray.pixels.prefix(4)) == [0, 40, 80, 120])
    let rgb = try ImageCodec.decode(try fixture("gray.png"), channels: 3)
    #expect(Array(rgb.pixels.prefix(6)) == [0, 0, 0, 40, 40, 40])
    let grayJPEG = try ImageCodec.decode(try fixture("gray.jpg"))
    #expect(grayJPEG.channels == 1)
    #expect(try ImageCodec.decode(try fixture("gray.jpg"), channels: 3).channels == 3)
    let rgba = try ImageCodec.decode(try fixture("rgba.png"))
    #expect(rgba.channels == 4 && Array(rgba.pixels.prefix(4)) == [10, 20, 30, 40])
    #expect(Array(rgba.pixels.suffix(4)) == [250, 240, 230, 255])
    #expect(try ImageCodec.decode(try fixture("gray_alpha.png")).channels == 2)
    let palette = try ImageCodec.decode(try fixture("palette.png"), channels: 3)
    #expect(Array(palette.pixels.prefix(3)) == [200, 100, 50])
    // 16-bit samples come out as their high byte.
    let deep = try ImageCodec.decode(try fixture("gray16.png"))
    #expect(deep.pixels == [0, 100, 255, 7, 200, 255])
  }

  @Test(arguments: 1...8) func honoursExifOrientation(orientation: Int) throws {
    let upright = try ImageCodec.decode(try fixture("upright.png"))
    let data = try fixture("orientation_\(orientation).jpg")
    let info = try ImageCodec.info(data)
    #expect(info.orientation.rawValue == orientation)
    #expect(info.width == 24 && info.height == 16)
    let decoded = try ImageCodec.decode(data)
    #expect(decoded.width == 24 && decoded.height == 16)
    // The centre of each 8x8 block has the block's colour.
    for by in 0..<2 {
      for bx in 0..<3 {
        for c in 0..<3 {
          let got = Int(decoded[x: bx * 8 + 4, y: by * 8 + 4, channel: c])
          let want = Int(upright[x: bx * 8 + 4, y: by * 8 + 4, channel: c])
          #expect(abs(got - want) < 24, "orientation \(orientation), block (\(bx), \(by))")
        }
      }
    }
    // Without orientation the stored pixels come back as stored.
    let stored = try ImageCodec.decode(data, applyingOrientation: false)
    #expect(stored.width == (orientation >= 5 ? 16 : 24))
  }

  @Test func truncatedAndCorruptFilesThrowClearErrors() throws {
    let jpeg = try ImageCodec.encodeJPEG(gradient(width: 64, height: 64, channels: 3))
    let png = try ImageCodec.encodePNG(gradient(width: 64, height: 64, channels: 3))
    for data in [jpeg.prefix(jpeg.count / 2), png.prefix(png.count / 2), png.prefix(20), jpeg.prefix(4)] {
      #expect(throws: ImageCodecError.self) { try ImageCodec.decode(Data(data)) }
    }
    var garbled = jpeg
    for i in 200..<260 { garbled[i] = 0xFF }
    let error = #expect(throws: ImageCodecError.self) { try ImageCodec.decode(garbled) }
    #expect(error?.kind == .corrupt)
    #expect(error?.message.isEmpty == false)
    let unknown = #expect(throws: ImageCodecError.self) { try ImageCodec.decode(Data("GIF89a....".utf8)) }
    #expect(unknown?.kind == .unknownFormat)
    #expect(throws: ImageCodecError.self) { try ImageCodec.decode(contentsOf: URL(fileURLWithPath: "/nonexistent/x.jpg")) }
  }

  @Test func fastDownscaleDecodesAtReducedSize() throws {
    let data = try ImageCodec.encodeJPEG(gradient(width: 640, height: 480, channels: 3))
    // TurboJPEG's factors are n/8: 1/2 is the smallest that still covers 300x200.
    let image = try ImageCodec.decode(data, minimumSize: (300, 200))
    #expect(image.width == 320 && image.height == 240)
    let full = try ImageCodec.decode(data, minimumSize: (640, 480))
    #expect(full.width == 640)
  }

  @Test func resizeMatchesBilinearWithHalfPixelCentres() {
    // A 2x1 image upscaled to 4x1: torch gives [a, a*0.75+b*0.25, a*0.25+b*0.75, b].
    let image = Image(width: 2, height: 1, channels: 1, pixels: [0, 200])
    #expect(image.resized(width: 4, height: 1).pixels == [0, 50, 150, 200])
    let down = Image(width: 4, height: 1, channels: 1, pixels: [0, 100, 200, 250]).resized(width: 2, height: 1)
    #expect(down.pixels == [50, 225])
    let flat = Image(width: 10, height: 7, filledWith: [9, 99, 199])
    #expect(flat.resized(width: 23, height: 5) == Image(width: 23, height: 5, filledWith: [9, 99, 199]))
  }

  /// 16-bit samples, against PNGs written by tools/make_png16_fixtures.py with zlib alone
  /// (hu16.png, rgb16.png) and by Pillow (gray16.png).
  @Test func sixteenBitSamplesDecodeWhole() throws {
    let hu = try ImageCodec.decode16(try fixture("hu16.png"))
    #expect(hu.width == 4 && hu.height == 2 && hu.channels == 1)
    #expect(hu.samples == [31744, 32768, 32808, 0x1234, 65535, 0, 32863, 1])
    #expect(hu[x: 2, y: 1, channel: 0] == 32863)
    #expect(try ImageCodec.bitDepth(try fixture("hu16.png")) == 16 && ImageCodec.bitDepth(try fixture("gray.png")) == 8)
    // The 8-bit decoder keeps the high byte.
    #expect(try ImageCodec.decode(try fixture("hu16.png")).pixels == [124, 128, 128, 18, 255, 0, 128, 0])
    #expect(try ImageCodec.decode16(try fixture("gray16.png")).samples == [0, 25700, 65535, 1799, 51400, 65535])

    let rgb = try ImageCodec.decode16(try fixture("rgb16.png"))
    #expect(rgb.channels == 3 && rgb.samples == [0x0102, 0x0304, 0x0506, 65535, 32768, 7])
    #expect(try ImageCodec.decode16(try fixture("rgb16.png"), channels: 4).samples == [0x0102, 0x0304, 0x0506, 65535, 65535, 32768, 7, 65535])
    #expect(Array(try ImageCodec.decode16(try fixture("hu16.png"), channels: 3).samples.prefix(6)) == [31744, 31744, 31744, 32768, 32768, 32768])
    // 8-bit files are scaled up: v * 257.
    #expect(Array(try ImageCodec.decode16(try fixture("gray.png")).samples.prefix(4)) == [0, 40 * 257, 80 * 257, 120 * 257])
    #expect(throws: ImageCodecError.self) { try ImageCodec.decode16(try fixture("gray.jpg")) }
    #expect(throws: ImageCodecError.self) { try ImageCodec.decode16(Data(try fixture("hu16.png").prefix(60))) }
  }

  @Test(arguments: [1, 2, 3, 4]) func sixteenBitRoundTripIsExact(channels: Int) throws {
    var samples: [UInt16] = []
    for i in 0..<(9 * 5 * channels) { samples.append(UInt16((i * 7919 + 13) % 65536)) }
    let image = Image16(width: 9, height: 5, channels: channels, samples: samples)
    let data = try ImageCodec.encodePNG16(image)
    #expect(try ImageCodec.decode16(data) == image)
    #expect(try ImageCodec.bitDepth(data) == 16)
    #expect(try ImageCodec.decode(data).pixels == samples.map { UInt8($0 >> 8) })
  }

  /// A 68-byte PNG whose header claims 100,000 × 100,000 RGBA pixels (40 GB decoded).
  static let pngBomb: [UInt8] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x01, 0x86,
    0xA0, 0x00, 0x01, 0x86, 0xA0, 0x08, 0x06, 0x00, 0x00, 0x00, 0xA8, 0x52, 0x0B, 0xC8, 0x00, 0x00, 0x00, 0x0B, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x40, 0x05, 0x00, 0x00, 0x10, 0x00, 0x01, 0x39, 0xBD, 0x8F, 0x65, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
  ]

  /// Decoding bombs: a few header bytes claiming billions of pixels are refused before the
  /// pixels' memory is reserved (the allocation alone exceeded the fuzz harness's 2 GB limit).
  @Test func imagesClaimingTooManyPixelsAreRefusedBeforeDecoding() throws {
    var jpeg = try fixture("gray.jpg")
    let sof = try #require(jpeg.firstRange(of: Data([0xFF, 0xC0])))
    // Height and width follow the marker, its length and the sample precision.
    jpeg.replaceSubrange((sof.lowerBound + 5)..<(sof.lowerBound + 9), with: [0xEA, 0x60, 0xEA, 0x60])  // 60,000²
    #expect(try ImageCodec.info(jpeg).width == 60_000)
    for data in [jpeg, Data(Self.pngBomb)] {
      let error = #expect(throws: ImageCodecError.self) { try ImageCodec.decode(data) }
      #expect(error?.kind == .tooLarge)
      #expect(error?.message.contains("pixel limit") == true, "\(error?.message ?? "")")
    }
    let error = #expect(throws: ImageCodecError.self) { try ImageCodec.decode16(Data(Self.pngBomb)) }
    #expect(error?.kind == .tooLarge)
  }
}
