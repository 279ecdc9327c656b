import Foundation
import Testing

@testable import Torch

// Fixtures for the checkpoint tests, written by tools/make_checkpoint_fixtures.py with PyTorch and
// the reference safetensors package, and the expectations that script recorded beside them.

enum CheckpointFixtures {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  static func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }

  /// What Python saw: dtype, shape, the contiguous bytes and the values of each tensor.
  struct Expected: Decodable {
    let dtype: String
    let shape: [Int]
    let hex: String
    /// Floating-point values, exact (JSON holds the shortest round-tripping decimal).
    let floats: [Double]?
    /// Integer and bool values, exact.
    let integers: [Int64]?

    enum CodingKeys: String, CodingKey { case dtype, shape, hex, values }

    init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      dtype = try container.decode(String.self, forKey: .dtype)
      shape = try container.decode([Int].self, forKey: .shape)
      hex = try container.decode(String.self, forKey: .hex)
      if ["float32", "float64", "float16", "bfloat16"].contains(dtype) {
        floats = try container.decode([Double].self, forKey: .values)
        integers = nil
      } else {
        integers = try container.decode([Int64].self, forKey: .values)
        floats = nil
      }
    }
  }

  struct Nested: Decodable {
    let model: [String: Expected]
    let momentum_buffers: [String: Expected]
    let epoch: Int
    let best_accuracy: Double
  }

  struct Sidecar: Decodable {
    let torch_version: String
    let state_dict: [String: Expected]
    let nested: Nested
    let small: [String: Expected]
    let safetensors: [String: Expected]
    let safetensors_metadata: [String: String]
  }

  static func sidecar() throws -> Sidecar {
    try JSONDecoder().decode(Sidecar.self, from: data("checkpoints.json"))
  }

  /// Expects `tensor` to be exactly what Python recorded under `name`.
  static func expect(
    _ tensor: Tensor?, matches expected: Expected, name: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    guard let tensor else {
      Issue.record("missing tensor '\(name)'", sourceLocation: sourceLocation)
      return
    }
    #expect(tensor.dtype.description == expected.dtype, "dtype of \(name)", sourceLocation: sourceLocation)
    #expect(tensor.shape == expected.shape, "shape of \(name)", sourceLocation: sourceLocation)
    #expect(hexString(tensor.bytes()) == expected.hex, "bytes of \(name)", sourceLocation: sourceLocation)
    if let floats = expected.floats {
      #expect(tensor.toArray(Double.self) == floats, "values of \(name)", sourceLocation: sourceLocation)
    }
    if let integers = expected.integers {
      #expect(tensor.toArray(Int64.self) == integers, "values of \(name)", sourceLocation: sourceLocation)
    }
  }

  static func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
  }

  /// A fresh empty directory, removed by the caller.
  static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("simpledet-checkpoint-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

/// A seeded generator (SplitMix64), so the fuzz tests mutate the same bytes on every run.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
