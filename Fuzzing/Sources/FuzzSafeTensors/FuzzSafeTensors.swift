import Foundation
import Torch

/// Any bytes given to the safetensors reader must decode or throw a `CheckpointError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  _ = try? SafeTensors.decode(data, source: "fuzz.safetensors")
  return 0
}
