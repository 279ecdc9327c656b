import Data
import Foundation

/// Any bytes given to the Pascal VOC reader as an annotation file must read or throw.
///
/// The reader's public entry takes files, so each input is written to one scratch file of this
/// process first; that is a few microseconds against the XML parse.
let scratch: URL = {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-fuzz-voc-\(getpid())")
  try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder.appendingPathComponent("annotation.xml")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVOC(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  guard (try? data.write(to: scratch)) != nil else { return 0 }
  let images = URL(fileURLWithPath: "/nonexistent-fuzz-images")
  _ = try? VOCReader.read(annotationFiles: [scratch], images: images, policy: .skip)
  _ = try? VOCReader.read(annotationFiles: [scratch], images: images, classes: ["dog", "cat"], policy: .fail)
  return 0
}
