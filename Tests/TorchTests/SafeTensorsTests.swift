import Foundation
import Testing

@testable import Torch

private func tensor(_ bytes: [UInt8], _ shape: [Int], _ dtype: DType) -> Tensor {
  bytes.withUnsafeBytes { Tensor(bytes: $0, shape: shape, dtype: dtype) }
}

/// One tensor of every dtype, built from raw bytes so that bf16 and f16 need no Swift type.
private func everyDType() -> [String: Tensor] {
  [
    "f32": Tensor([1.5, -2.25, 0.1, 3e38] as [Float], shape: [2, 2]),
    "f64": Tensor([0.1, -1e300, .infinity] as [Double]),
    "f16": tensor([0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B], [3], .float16),  // 1, -2, 65504
    "bf16": tensor([0x80, 0x3F, 0x20, 0xC0, 0x49, 0x40, 0x80, 0x7F], [2, 2], .bfloat16),  // 1, -2.5, 3.140625, inf
    "i64": Tensor([Int64.min, -1, Int64.max], shape: [3, 1]),
    "i32": Tensor([Int32.min, 7] as [Int32]),
    "i16": tensor([0x00, 0x80, 0x2C, 0x01], [2], .int16),  // -32768, 300
    "i8": tensor([0x80, 0x7F, 0x00], [3], .int8),
    "u8": Tensor([0, 255, 9] as [UInt8]),
    "bool": Tensor([true, false, true]),
    "scalar": Tensor(scalar: Float(2)),
    "empty": Tensor.zeros([0, 3]),
    "non-contiguous": Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3]).transposed(0, 1),
  ]
}

private func expectSame(_ actual: [String: Tensor], _ expected: [String: Tensor]) {
  #expect(Set(actual.keys) == Set(expected.keys))
  for (name, want) in expected {
    guard let got = actual[name] else { continue }
    #expect(got.dtype == want.dtype, "dtype of \(name)")
    #expect(got.shape == want.shape, "shape of \(name)")
    #expect(got.bytes() == want.bytes(), "bytes of \(name)")
  }
}

/// A safetensors file with `header` (JSON text) and `data` after it, padded nowhere.
private func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
  var out = Data()
  let headerBytes = Array(header.utf8)
  withUnsafeBytes(of: (length ?? UInt64(headerBytes.count)).littleEndian) { out.append(contentsOf: $0) }
  out.append(contentsOf: headerBytes)
  out.append(contentsOf: data)
  return out
}

@Suite struct SafeTensorsTests {
  @Test func roundTripsEveryDType() throws {
    let tensors = everyDType()
    let decoded = try SafeTensors.decode(try SafeTensors.encode(tensors))
    expectSame(decoded.tensors, tensors)
    #expect(decoded.metadata.isEmpty)
    #expect(decoded.tensors["bf16"]!.toArray(Double.self) == [1, -2.5, 3.140625, .infinity])
    #expect(decoded.tensors["f16"]!.toArray(Double.self) == [1, -2, 65504])
    #expect(decoded.tensors["non-contiguous"]!.toArray(Float.self) == [1, 4, 2, 5, 3, 6])
  }

  @Test func roundTripsThroughAFileWithMetadata() throws {
    let directory = try CheckpointFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("model.safetensors")
    let metadata = ["epoch": "3", "quote\"and\\slash": "line\nbreak\u{01}", "unicode": "größe ✓"]
    try SafeTensors.write(everyDType(), metadata: metadata, to: url)
    let read = try SafeTensors.readWithMetadata(contentsOf: url)
    expectSame(read.tensors, everyDType())
    #expect(read.metadata == metadata)
    expectSame(try SafeTensors.read(contentsOf: url), everyDType())
  }

  @Test func encodingIsDeterministicAndPadded() throws {
    let first = try SafeTensors.encode(everyDType(), metadata: ["b": "2", "a": "1"])
    let second = try SafeTensors.encode(everyDType(), metadata: ["a": "1", "b": "2"])
    #expect(first == second)
    let headerLength = first.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    #expect(headerLength % 8 == 0)
    let header = String(decoding: first.dropFirst(8).prefix(headerLength), as: UTF8.self)
    #expect(header.hasPrefix("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"},\"i64\":"))
  }

  @Test func readsTheReferenceImplementationsFile() throws {
    let sidecar = try CheckpointFixtures.sidecar()
    let read = try SafeTensors.readWithMetadata(contentsOf: CheckpointFixtures.url("reference.safetensors"))
    #expect(Set(read.tensors.keys) == Set(sidecar.safetensors.keys))
    for (name, expected) in sidecar.safetensors {
      CheckpointFixtures.expect(read.tensors[name], matches: expected, name: name)
    }
    #expect(read.metadata == sidecar.safetensors_metadata)
  }

  @Test func writesTheReferenceImplementationsBytes() throws {
    let reference = try CheckpointFixtures.data("reference.safetensors")
    let read = try SafeTensors.decode(reference)
    #expect(try SafeTensors.encode(read.tensors, metadata: read.metadata) == reference)
  }

  @Test func writeReplacesTheTargetAtomically() throws {
    let directory = try CheckpointFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("checkpoint.safetensors")
    try SafeTensors.write(["w": Tensor([1, 2] as [Float])], to: url)
    try SafeTensors.write(["w": Tensor([3, 4, 5] as [Float])], to: url)
    #expect(try SafeTensors.read(contentsOf: url)["w"]!.toArray(Float.self) == [3, 4, 5])
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["checkpoint.safetensors"])

    try writeAtomically(Data("hello".utf8), to: url)
    #expect(try Data(contentsOf: url) == Data("hello".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["checkpoint.safetensors"])
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
  }

  @Test func atomicWriteIntoAMissingDirectoryFailsCleanly() throws {
    let url = URL(fileURLWithPath: "/nonexistent-simpledet-dir/x.safetensors")
    let error = #expect(throws: CheckpointError.self) { try writeAtomically(Data([1]), to: url) }
    #expect(error?.kind == .io)
    #expect(error?.description.contains("/nonexistent-simpledet-dir") == true)
  }

  @Test func refusesTheReservedMetadataName() throws {
    let error = #expect(throws: CheckpointError.self) {
      _ = try SafeTensors.encode(["__metadata__": Tensor([1] as [Float])])
    }
    #expect(error?.message.contains("reserved") == true)
  }

  enum Malformed: String, CaseIterable, Sendable {
    case empty, shortLength, headerPastEnd, hugeHeader, notJSON, notAnObject, unknownDType, offsetsPastEnd
    case overlapping, gap, trailingBytes, sizeMismatch, negativeDimension, fractionalDimension
    case duplicateName, missingField, reversedOffsets, metadataNotStrings, invalidBool, invalidUTF8

    var data: Data {
      let f32 = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
      let eight = [UInt8](repeating: 0, count: 8)
      switch self {
      case .empty: return Data()
      case .shortLength: return Data([1, 0, 0])
      case .headerPastEnd: return file(#"{"a":\#(f32)}"#, data: eight, length: 1000)
      case .hugeHeader: return file("{}", length: 1 << 40)
      case .notJSON: return file(#"{"a": {"dtype": "F32",}"#)
      case .notAnObject: return file("[1, 2]")
      case .unknownDType:
        return file(#"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0])
      case .offsetsPastEnd: return file(#"{"a":\#(f32)}"#, data: [0, 0, 0, 0])
      case .overlapping:
        return file(
          #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
          data: eight)
      case .gap:
        return file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight)
      case .trailingBytes: return file(#"{"a":\#(f32)}"#, data: eight + [0])
      case .sizeMismatch:
        return file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight)
      case .negativeDimension:
        return file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight)
      case .fractionalDimension:
        return file(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eight)
      case .duplicateName: return file(#"{"a":\#(f32),"a":\#(f32)}"#, data: eight)
      case .missingField: return file(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: eight)
      case .reversedOffsets:
        return file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eight)
      case .metadataNotStrings: return file(#"{"__metadata__":{"epoch":3}}"#)
      case .invalidBool:
        return file(#"{"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2])
      case .invalidUTF8:
        var data = file(#"{"a\#u{FF}":\#(f32)}"#, data: eight)
        data[11] = 0xFF  // replace the first byte of U+00FF's encoding with a stray byte
        return data
      }
    }

    var expected: (kind: CheckpointError.Kind, text: String) {
      switch self {
      case .empty, .shortLength: (.truncated, "fewer than the 8-byte header length")
      case .headerPastEnd: (.truncated, "header length 1000 runs past the end")
      case .hugeHeader: (.malformed, "exceeds")
      case .notJSON: (.malformed, "not valid JSON")
      case .notAnObject: (.malformed, "does not start with '{'")
      case .unknownDType: (.unsupported, "dtype 'F8_E4M3'")
      case .offsetsPastEnd: (.truncated, "runs past the end of the data")
      case .overlapping: (.malformed, "overlaps 'a'")
      case .gap: (.malformed, "gap of 4 unused bytes")
      case .trailingBytes: (.malformed, "1 bytes after the last tensor")
      case .sizeMismatch: (.malformed, "12 bytes, but its data_offsets [0, 8] span 8")
      case .negativeDimension: (.malformed, "is negative (-2)")
      case .fractionalDimension: (.malformed, "not a non-negative integer (2.0)")
      case .duplicateName: (.malformed, "names a tensor twice: duplicate key 'a'")
      case .missingField: (.malformed, "tensor 'a' has no \"data_offsets\"")
      case .reversedOffsets: (.malformed, "end (0) before they begin (8)")
      case .metadataNotStrings: (.malformed, "__metadata__ value 'epoch' is a JSON number")
      case .invalidBool: (.malformed, "bool tensor 'a' holds byte 2")
      case .invalidUTF8: (.malformed, "not valid UTF-8")
      }
    }
  }

  @Test(arguments: Malformed.allCases)
  func rejectsMalformedFiles(_ example: Malformed) throws {
    let directory = try CheckpointFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("\(example.rawValue).safetensors")
    try example.data.write(to: url)
    let error = #expect(throws: CheckpointError.self) { _ = try SafeTensors.read(contentsOf: url) }
    #expect(error?.kind == example.expected.kind, "\(error?.description ?? "")")
    #expect(error?.message.contains(example.expected.text) == true, "\(error?.description ?? "")")
    #expect(error?.description.hasPrefix(url.path + ": ") == true)
  }

  @Test func missingFileIsAnIOError() {
    let error = #expect(throws: CheckpointError.self) {
      _ = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "/nonexistent/weights.safetensors"))
    }
    #expect(error?.kind == .io)
    #expect(error?.source == "/nonexistent/weights.safetensors")
  }

  /// Damaged files of every sort must throw, never trap or read out of bounds.
  @Test func survivesRandomDamage() throws {
    let reference = try CheckpointFixtures.data("reference.safetensors")
    var random = SplitMix64(seed: 7)
    var rejected = 0
    for trial in 0..<400 {
      var damaged = reference
      if trial % 4 == 0 {
        damaged = damaged.prefix(Int.random(in: 0..<reference.count, using: &random))
      } else {
        for _ in 0..<Int.random(in: 1...3, using: &random) {
          // Mostly the header, where the structure is.
          let limit = Bool.random(using: &random) ? min(reference.count, 700) : reference.count
          damaged[Int.random(in: 0..<limit, using: &random)] = UInt8.random(in: 0...255, using: &random)
        }
      }
      do {
        _ = try SafeTensors.decode(damaged, source: "damaged")
      } catch is CheckpointError {
        rejected += 1
      }
    }
    #expect(rejected > 100)
  }
}
