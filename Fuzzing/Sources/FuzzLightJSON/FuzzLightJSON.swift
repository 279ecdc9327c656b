import Data
import Foundation

/// Any bytes given to the light JSON reader must read or throw, under both bad-data policies.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLightJSON(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  let images = ImageSource.folder(URL(fileURLWithPath: "/nonexistent-fuzz-images"))
  _ = try? LightJSONReader.read(data, file: "fuzz.json", imageSource: images, policy: .skip)
  _ = try? LightJSONReader.read(data, file: "fuzz.json", imageSource: images, policy: .fail)
  return 0
}
