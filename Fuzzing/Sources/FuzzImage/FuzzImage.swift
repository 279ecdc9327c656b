import Data
import Foundation

/// Any bytes given to the image codecs (TurboJPEG, libpng and the EXIF reader) must decode or
/// throw an `ImageCodecError`, through every public decoding entry.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  guard (try? ImageCodec.info(data)) != nil else { return 0 }
  _ = try? ImageCodec.decode(data)
  _ = try? ImageCodec.decode(data, channels: 3, applyingOrientation: true, minimumSize: (width: 16, height: 16))
  _ = try? ImageCodec.bitDepth(data)
  _ = try? ImageCodec.decode16(data)
  return 0
}
