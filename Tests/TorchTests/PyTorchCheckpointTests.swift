import Foundation
import Testing

@testable import Torch

/// Runs the restricted unpickler with the checkpoint reader's allow-list over crafted bytes.
private func unpickle(
  _ bytes: [UInt8],
  persistentLoad: @escaping (PickleValue) throws -> PickleValue = { _ in
    throw CheckpointError(.malformed, source: "", "no storages here")
  }
) throws -> PickleValue {
  var unpickler = Unpickler(
    allowedGlobals: PyTorchCheckpoint.allowedGlobals, persistentLoad: persistentLoad,
    reduce: PyTorchCheckpoint.reduce, source: "crafted.pth", context: "archive/data.pkl")
  return try bytes.withUnsafeBytes { try unpickler.load($0) }
}

private func text(_ string: String) -> [UInt8] { Array(string.utf8) }
private func shortString(_ string: String) -> [UInt8] { [0x8C, UInt8(string.utf8.count)] + text(string) }

private let proto: [UInt8] = [0x80, 0x02]
private let stop: [UInt8] = [0x2E]

@Suite struct PyTorchCheckpointTests {
  @Test func readsATorchvisionLikeStateDict() throws {
    let sidecar = try CheckpointFixtures.sidecar()
    let url = CheckpointFixtures.url("state_dict.pth")
    let tensors = try PyTorchCheckpoint.readStateDict(contentsOf: url)
    #expect(Set(tensors.keys) == Set(sidecar.state_dict.keys))
    for (name, expected) in sidecar.state_dict {
      CheckpointFixtures.expect(tensors[name], matches: expected, name: name)
    }
    // Spot checks that do not rely on the sidecar: views come back as their own values.
    #expect(tensors["bn.num_batches_tracked"]?.toArray(Int64.self) == [7])
    #expect(tensors["bn.num_batches_tracked"]?.shape == [])
    #expect(tensors["extra.row_view"]?.toArray(Float.self) == [1.25, 1.5, 1.75])
    #expect(tensors["extra.column_view"]?.toArray(Float.self) == [0.5, 1.5])
    #expect(tensors["extra.expanded"]?.toArray(Float.self) == [1.5, -2, 3.25, 1.5, -2, 3.25])
    #expect(tensors["extra.transposed"]?.toArray(Float.self) == tensors["fc.weight"]?.transposed(0, 1).toArray(Float.self))
    #expect(tensors["extra.empty"]?.shape == [0, 3])
    #expect(tensors["layer1.0.conv1.weight"]?.shape == [2, 1, 1, 1])
  }

  @Test func findsTheModelInsideATrainingCheckpoint() throws {
    let sidecar = try CheckpointFixtures.sidecar()
    let checkpoint = try PyTorchCheckpoint(contentsOf: CheckpointFixtures.url("nested.pth"))
    #expect(checkpoint.keys == ["model", "optimizer", "epoch", "best_accuracy", "args", "finished", "note"])

    let model = try checkpoint.stateDict()
    #expect(Set(model.keys) == ["weight", "bias"])
    for (name, expected) in sidecar.nested.model {
      CheckpointFixtures.expect(model[name], matches: expected, name: name)
    }
    #expect(Set(try checkpoint.stateDict(key: "model").keys) == ["weight", "bias"])

    let all = try checkpoint.allTensors()
    #expect(Set(all.keys) == ["model.weight", "model.bias", "optimizer.state.0.momentum_buffer", "optimizer.state.1.momentum_buffer"])
    for (index, expected) in sidecar.nested.momentum_buffers {
      let name = "optimizer.state.\(index).momentum_buffer"
      CheckpointFixtures.expect(all[name], matches: expected, name: name)
    }

    let top = try #require(checkpoint.root.dict)
    #expect(top["epoch"]?.int == sidecar.nested.epoch)
    guard case .float(let accuracy) = top["best_accuracy"] else {
      Issue.record("best_accuracy is \(top["best_accuracy"]?.typeName ?? "missing")")
      return
    }
    #expect(accuracy == sidecar.nested.best_accuracy)
    #expect(top["args"]?.elements?.compactMap(\.string) == ["--lr", "0.1"])
    guard case .bool(true) = top["finished"], case .null = top["note"] else {
      Issue.record("finished/note decoded wrongly")
      return
    }
  }

  @Test func explainsWhenAKeyHoldsNoWeights() throws {
    let checkpoint = try PyTorchCheckpoint(contentsOf: CheckpointFixtures.url("nested.pth"))
    let missing = #expect(throws: CheckpointError.self) { _ = try checkpoint.stateDict(key: "ema") }
    #expect(missing?.message.contains("no key 'ema'; its keys are 'model', 'optimizer', 'epoch'") == true)
    let notTensors = #expect(throws: CheckpointError.self) { _ = try checkpoint.stateDict(key: "optimizer") }
    #expect(notTensors?.message.contains("'optimizer.param_groups' holds a list, not a tensor") == true)
    let notDict = #expect(throws: CheckpointError.self) { _ = try checkpoint.stateDict(key: "epoch") }
    #expect(notDict?.message.contains("'epoch' holds a int") == true)
  }

  @Test func readsZip64ExtraFields() throws {
    let sidecar = try CheckpointFixtures.sidecar()
    let tensors = try PyTorchCheckpoint.readStateDict(contentsOf: CheckpointFixtures.url("zip64.pth"))
    #expect(Set(tensors.keys) == Set(sidecar.small.keys))
    for (name, expected) in sidecar.small {
      CheckpointFixtures.expect(tensors[name], matches: expected, name: name)
    }
  }

  @Test func refusesTheMaliciousPickle() throws {
    let url = CheckpointFixtures.url("malicious.pth")
    let error = #expect(throws: CheckpointError.self) { _ = try PyTorchCheckpoint(contentsOf: url) }
    #expect(error?.kind == .forbidden)
    #expect(error?.message.contains("refusing global 'os.system'") == true)
    #expect(error?.source == url.path)
  }

  @Test func refusesCompressedEntries() throws {
    let error = #expect(throws: CheckpointError.self) {
      _ = try PyTorchCheckpoint(contentsOf: CheckpointFixtures.url("compressed.pth"))
    }
    #expect(error?.kind == .unsupported)
    #expect(error?.message.contains("is compressed with deflate (method 8)") == true)
  }

  /// `torch.save(..., _use_new_zipfile_serialization=False)`, the format of PyTorch before 1.6
  /// and of mmdetection's published checkpoints.
  @Test func readsTheLegacyFormat() throws {
    let weights = try PyTorchCheckpoint.readStateDict(contentsOf: CheckpointFixtures.url("legacy.pth"))
    #expect(Array(weights.keys) == ["w"])
    #expect(weights["w"]!.isEqual(to: Tensor.ones([2])))
  }

  @Test func refusesATruncatedLegacyFile() throws {
    let data = try Data(contentsOf: CheckpointFixtures.url("legacy.pth"))
    let error = #expect(throws: CheckpointError.self) {
      _ = try PyTorchCheckpoint(data: data.prefix(data.count - 3), source: "cut.pth")
    }
    #expect(error?.source == "cut.pth")
    #expect(error?.kind == .truncated)
  }

  @Test func refusesFilesThatAreNotCheckpoints() throws {
    let error = #expect(throws: CheckpointError.self) {
      _ = try PyTorchCheckpoint(data: Data("hello, world".utf8), source: "notes.txt")
    }
    #expect(error?.kind == .malformed)
    #expect(error?.description == "notes.txt: not a PyTorch checkpoint: torch.save files are zip archives")
    let safetensors = try CheckpointFixtures.data("reference.safetensors")
    #expect(throws: CheckpointError.self) { _ = try PyTorchCheckpoint(data: safetensors) }
  }

  @Test(arguments: [0, 3, 4, 100, 3_000, 7_000, -22, -1])
  func refusesTruncatedArchives(_ cut: Int) throws {
    let data = try CheckpointFixtures.data("state_dict.pth")
    let length = cut < 0 ? data.count + cut : cut
    let error = #expect(throws: CheckpointError.self) {
      _ = try PyTorchCheckpoint(data: data.prefix(length), source: "cut.pth")
    }
    #expect(error?.kind == .truncated, "\(error?.description ?? "")")
  }

  @Test func detectsCorruptedStorageBytes() throws {
    let data = try CheckpointFixtures.data("state_dict.pth")
    let archive = try ZipArchive(data: data, source: "x")
    let storage = try archive.contents(of: try #require(archive.entry(named: "archive/data/0")))
    var damaged = data
    damaged[storage.startIndex] ^= 0x01
    let error = #expect(throws: CheckpointError.self) { _ = try PyTorchCheckpoint(data: damaged) }
    #expect(error?.message == "zip entry 'archive/data/0' fails its CRC-32 check (the file is corrupted)")
  }

  // MARK: The restricted unpickler

  @Test func decodesPlainValues() throws {
    let bytes: [UInt8] =
      proto + [0x28]  // MARK
      + [0x4B, 5, 0x4D, 0x34, 0x12, 0x4A, 0xF9, 0xFF, 0xFF, 0xFF]  // 5, 0x1234, -7
      + [0x8A, 1, 0xFF, 0x8A, 0, 0x8A, 8, 0, 0, 0, 0, 0, 0, 0, 0x80]  // -1, 0, Int64.min
      + [0x47, 0x3F, 0xE8, 0, 0, 0, 0, 0, 0]  // 0.75
      + [0x88, 0x89, 0x4E] + shortString("größe") + [0x43, 2, 0xAB, 0xCD]
      + [0x74] + stop  // TUPLE
    let value = try unpickle(bytes)
    let items = try #require(value.elements)
    #expect(items.count == 12)
    #expect(items[0...5].map(\.int) == [5, 0x1234, -7, -1, 0, Int(Int64.min)])
    guard case .float(0.75) = items[6], case .bool(true) = items[7], case .bool(false) = items[8],
      case .null = items[9], case .bytes([0xAB, 0xCD]) = items[11]
    else {
      Issue.record("decoded \(items.map(\.typeName))")
      return
    }
    #expect(items[10].string == "größe")
  }

  @Test func sharesValuesThroughTheMemo() throws {
    // {"a": [1, 2], "b": <the same list>}, the list memoized with BINPUT and fetched with BINGET
    let bytes: [UInt8] =
      proto + [0x7D, 0x71, 0, 0x28] + shortString("a") + [0x5D, 0x71, 1, 0x28, 0x4B, 1, 0x4B, 2, 0x65]
      + shortString("b") + [0x68, 1, 0x75] + stop
    let dict = try #require(try unpickle(bytes).dict)
    #expect(dict["a"]?.elements?.map(\.int) == [1, 2])
    #expect(dict["b"]?.elements?.map(\.int) == [1, 2])
  }

  @Test(arguments: [
    ("GLOBAL os.system", proto + text("cos\nsystem\n") + shortString("true") + [0x85, 0x52] + stop, "refusing global 'os.system'"),
    ("STACK_GLOBAL builtins.eval", proto + shortString("builtins") + shortString("eval") + [0x93] + stop, "refusing global 'builtins.eval'"),
    ("old tensor rebuild", proto + text("ctorch._utils\n_rebuild_tensor\n") + stop, "refusing global 'torch._utils._rebuild_tensor'"),
    ("subclass rebuild", proto + text("ctorch._tensor\n_rebuild_from_type_v2\n") + stop, "refusing global 'torch._tensor._rebuild_from_type_v2'"),
    ("NEWOBJ", proto + text("ccollections\nOrderedDict\n") + [0x29, 0x81] + stop, "NEWOBJ (0x81) is not allowed"),
    ("INST", proto + [0x28] + text("ios\nsystem\n") + stop, "INST (0x69) is not allowed"),
    ("PERSID", proto + text("P0\n") + stop, "PERSID (0x50) is not allowed"),
    ("calling a storage class", proto + text("ctorch\nFloatStorage\n") + [0x29, 0x52] + stop, "calling 'torch.FloatStorage' is not allowed"),
    ("BUILD on a tensor storage", proto + text("ctorch\nFloatStorage\n") + [0x7D, 0x62] + stop, "BUILD on a global torch.FloatStorage"),
  ] as [(String, [UInt8], String)])
  func refusesAnythingThatCouldRunCode(_ name: String, _ bytes: [UInt8], _ message: String) throws {
    let error = #expect(throws: CheckpointError.self) { _ = try unpickle(bytes) }
    #expect(error?.kind == .forbidden, "\(name): \(error?.description ?? "")")
    #expect(error?.message.contains(message) == true, "\(name): \(error?.description ?? "")")
    #expect(error?.description.hasPrefix("crafted.pth: archive/data.pkl at byte ") == true)
  }

  @Test(arguments: [
    ("list holding itself", proto + [0x5D, 0x71, 0, 0x68, 0, 0x61] + stop, "may not contain itself"),
    ("cycle of two lists", proto + [0x5D, 0x71, 0, 0x5D, 0x71, 1, 0x61, 0x68, 1, 0x68, 0, 0x61] + stop, "already stored in another"),
    ("deep tuples", proto + [0x29] + [UInt8](repeating: 0x85, count: 150) + stop, "nest deeper than 100"),
    ("deep lists", proto + [UInt8](repeating: 0x5D, count: 150) + [UInt8](repeating: 0x61, count: 149) + stop, "nest deeper than 100"),
    ("empty stack", proto + [0x52] + stop, "REDUCE (0x52) needs a value but the stack is empty"),
    ("pop below a mark", proto + [0x4B, 1, 0x28, 0x85] + stop, "TUPLE1 (0x85) needs a value"),
    ("unknown memo slot", proto + [0x68, 9] + stop, "memo slot 9, which was never stored"),
    ("SETITEM on a list", proto + [0x5D, 0x4B, 1, 0x4B, 2, 0x73] + stop, "SETITEM (0x73) on a list, not a dict"),
    ("values left over", proto + [0x4B, 1, 0x4B, 2] + stop, "STOP leaves 1 values"),
    ("OrderedDict with arguments", proto + text("ccollections\nOrderedDict\n") + [0x4B, 1, 0x85, 0x52] + stop, "OrderedDict called with 1 arguments"),
    ("bad rebuild arguments", proto + text("ctorch._utils\n_rebuild_tensor_v2\n") + [0x29, 0x52] + stop, "_rebuild_tensor_v2 needs"),
    ("invalid UTF-8", proto + [0x8C, 1, 0xFF] + stop, "not valid UTF-8"),
    ("huge integer", proto + [0x8A, 9] + [UInt8](repeating: 1, count: 9) + stop, "9 bytes is too large"),
  ] as [(String, [UInt8], String)])
  func rejectsMalformedPickles(_ name: String, _ bytes: [UInt8], _ message: String) throws {
    let error = #expect(throws: CheckpointError.self) { _ = try unpickle(bytes) }
    #expect(error?.message.contains(message) == true, "\(name): \(error?.description ?? "")")
  }

  @Test func rejectsTruncatedPickles() throws {
    for bytes in [proto, proto + [0x58, 100, 0, 0, 0] + text("abc"), proto + text("cos\nsys")] {
      let error = #expect(throws: CheckpointError.self) { _ = try unpickle(bytes) }
      #expect(error?.kind == .truncated, "\(error?.description ?? "")")
    }
  }

  @Test func rejectsViewsOutsideTheirStorage() throws {
    // _rebuild_tensor_v2(storage of 6 floats, offset 4, size (2, 2), stride (2, 1), False, OrderedDict())
    func rebuild(offset: UInt8, sizes: [UInt8], strides: [UInt8]) -> [UInt8] {
      proto + text("ctorch._utils\n_rebuild_tensor_v2\n") + [0x28]
        + [0x28] + shortString("storage") + text("ctorch\nFloatStorage\n") + shortString("0")
        + shortString("cpu") + [0x4B, 6, 0x74, 0x51]
        + [0x4B, offset] + [0x28] + sizes.flatMap { [0x4B, $0] } + [0x74]
        + [0x28] + strides.flatMap { [0x4B, $0] } + [0x74]
        + [0x89] + text("ccollections\nOrderedDict\n") + [0x29, 0x52] + [0x74, 0x52] + stop
    }
    let storageBytes = Data((0..<6).flatMap { i in withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init) })
    let load: (PickleValue) throws -> PickleValue = { _ in
      .object(PickledStorage(key: "0", dtype: .float32, bytes: storageBytes, count: 6))
    }
    let inside = try unpickle(rebuild(offset: 1, sizes: [2, 2], strides: [1, 3]), persistentLoad: load)
    #expect(inside.tensor?.toArray(Float.self) == [1, 4, 2, 5])
    let empty = try unpickle(rebuild(offset: 9, sizes: [0, 2], strides: [2, 1]), persistentLoad: load)
    #expect(empty.tensor?.shape == [0, 2])
    let outside = #expect(throws: CheckpointError.self) {
      _ = try unpickle(rebuild(offset: 4, sizes: [2, 2], strides: [2, 1]), persistentLoad: load)
    }
    #expect(outside?.message.contains("reaches element 7 of a storage of 6 elements") == true)
  }

  /// Damaged pickles must throw, never trap: the archive's CRC hides pickle damage from the
  /// whole-file path, so the unpickler is fed mutated bytes directly.
  @Test func survivesRandomPickleDamage() throws {
    let data = try CheckpointFixtures.data("state_dict.pth")
    let archive = try ZipArchive(data: data, source: "fuzz.pth")
    let pickle = Array(try archive.contents(of: try #require(archive.entry(named: "archive/data.pkl"))))
    var random = SplitMix64(seed: 11)
    var rejected = 0
    for trial in 0..<300 {
      var damaged = pickle
      if trial % 5 == 0 {
        damaged = Array(damaged.prefix(Int.random(in: 0..<pickle.count, using: &random)))
      } else {
        for _ in 0..<Int.random(in: 1...3, using: &random) {
          damaged[Int.random(in: 0..<pickle.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        }
      }
      let loader = PickledStorageLoader(archive: archive, prefix: "archive/")
      do {
        _ = try unpickle(damaged, persistentLoad: loader.load)
      } catch is CheckpointError {
        rejected += 1
      }
    }
    #expect(rejected > 100)
  }

  @Test func survivesRandomArchiveDamage() throws {
    let data = try CheckpointFixtures.data("zip64.pth")
    var random = SplitMix64(seed: 3)
    for _ in 0..<300 {
      var damaged = data
      for _ in 0..<Int.random(in: 1...4, using: &random) {
        damaged[Int.random(in: 0..<data.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
      }
      do {
        _ = try PyTorchCheckpoint(data: damaged, source: "fuzz.pth").stateDict()
      } catch is CheckpointError {}
    }
  }
}
