import Foundation
import Torch

/// Any bytes given to the `.pth` reader (zip archive, legacy format, restricted unpickler) must
/// read or throw; the walks over the unpickled object run too, since a pickle can make them
/// exponential by sharing subtrees.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  guard let checkpoint = try? PyTorchCheckpoint(data: data, source: "fuzz.pth") else { return 0 }
  _ = checkpoint.keys
  _ = try? checkpoint.stateDict()
  _ = try? checkpoint.allTensors()
  return 0
}
