import Foundation
import Torch

extension Module {
  /// Loads parameters and buffers from a safetensors file or a PyTorch `.pth`/`.pt` state dict
  /// (told apart by content, not extension), then copies them in as `load(stateDict:strict:)`.
  @discardableResult
  public func loadWeights(contentsOf url: URL, strict: Bool = true) throws -> LoadReport {
    let state = try readWeightFile(url)
    do {
      return try load(stateDict: state, strict: strict)
    } catch let error as StateDictError {
      throw WeightFileError(path: url.path, message: error.description)
    }
  }

  /// Writes `stateDict()` as safetensors, atomically (a crash never leaves a half-written file).
  public func saveWeights(to url: URL, metadata: [String: String] = [:]) throws {
    try SafeTensors.write(stateDict(), metadata: metadata, to: url)
  }
}

/// A weight file that could not be used, naming the file.
public struct WeightFileError: Error, CustomStringConvertible {
  public let path: String
  public let message: String
  public var description: String { "\(path): \(message)" }
}

/// The tensors of a safetensors file or a PyTorch zip checkpoint.
public func readWeightFile(_ url: URL) throws -> [String: Tensor] {
  let handle: FileHandle
  do {
    handle = try FileHandle(forReadingFrom: url)
  } catch {
    throw WeightFileError(path: url.path, message: "cannot open: \(error.localizedDescription)")
  }
  let start = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
  try? handle.close()
  // A zip archive, or the legacy format's magic-number pickle (PROTO 2, LONG1 of 10 bytes).
  if start.starts(with: [0x50, 0x4B, 0x03, 0x04]) || start.starts(with: [0x80, 0x02, 0x8A, 0x0A]) {
    return try PyTorchCheckpoint.readStateDict(contentsOf: url)
  }
  // safetensors: an 8-byte header length, then the JSON header.
  guard start.count == 9, start[8] == UInt8(ascii: "{") else {
    throw WeightFileError(path: url.path, message: "not a weight file (neither safetensors nor a PyTorch .pth file)")
  }
  return try SafeTensors.read(contentsOf: url)
}

extension OptimizerState {
  private static let scalarsKey = "simpledet.optimizer.scalars"

  /// Writes the state as safetensors, with the numbers as JSON in the header metadata; atomic.
  public func write(to url: URL) throws {
    let json = try JSONEncoder().encode(scalars)
    try SafeTensors.write(tensors, metadata: [Self.scalarsKey: String(decoding: json, as: UTF8.self)], to: url)
  }

  /// Reads a state written by `write(to:)`.
  public init(contentsOf url: URL) throws {
    let (tensors, metadata) = try SafeTensors.readWithMetadata(contentsOf: url)
    guard let json = metadata[Self.scalarsKey],
      let scalars = try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8))
    else {
      throw WeightFileError(path: url.path, message: "not an optimizer state (no '\(Self.scalarsKey)' metadata)")
    }
    self.init(tensors: tensors, scalars: scalars)
  }
}
