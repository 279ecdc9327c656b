import Config
import Foundation

/// Any bytes given to the YAML config loader as a config file must load or throw a `ConfigError`.
///
/// The loader reads files, so each input is written to one scratch file of this process first.
/// The scratch folder mirrors `configs/` (a copy of `configs/_base_` beside the file's folder),
/// so the seeds' `_base_: ../_base_/...` lines resolve and inheritance is fuzzed too.
let scratch: URL = {
  let files = FileManager.default
  let root = files.temporaryDirectory.appendingPathComponent("simpledet-fuzz-config-\(getpid())")
  let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  try? files.createDirectory(at: root.appendingPathComponent("fuzz"), withIntermediateDirectories: true)
  try? files.copyItem(
    at: repository.appendingPathComponent("configs/_base_"), to: root.appendingPathComponent("_base_"))
  return root.appendingPathComponent("fuzz/config.yaml")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  guard (try? data.write(to: scratch)) != nil else { return 0 }
  _ = try? SimpleDetConfig.load(file: scratch.path)
  return 0
}
