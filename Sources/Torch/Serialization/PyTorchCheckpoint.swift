import Foundation

/// A checkpoint written by PyTorch's `torch.save` (a `.pth` or `.pt` file), read without Python
/// and without running anything the file asks for.
///
/// `torch.save` writes a zip archive: `NAME/data.pkl` pickles the saved object, and each tensor
/// storage is a raw little-endian entry `NAME/data/KEY`. Its legacy format (before PyTorch 1.6,
/// and mmdetection's published checkpoints) is read too (`LegacyCheckpoint`). The pickle is read by a restricted
/// unpickler that admits only `collections.OrderedDict`, torch's tensor and parameter rebuild
/// functions, the typed storage classes and `torch.device`, so a malicious file is refused
/// instead of executed. Each tensor comes back as its own contiguous CPU copy: views that shared
/// storage in PyTorch no longer do, which is what loading weights into a model needs.
///
///     let weights = try PyTorchCheckpoint.readStateDict(contentsOf: url)  // ["conv1.weight": ...]
public struct PyTorchCheckpoint {
  /// The unpickled object saved by `torch.save`.
  let root: PickleValue
  let source: String
  /// Bounds the work of walking `root`, which a hostile pickle could make share subtrees.
  private let walkBudget: Int

  /// Reads the checkpoint at `url`; the file is memory-mapped, so its tensors are copied once.
  public init(contentsOf url: URL) throws {
    try self.init(data: try readCheckpointFile(url), source: url.path)
  }

  /// Reads a checkpoint held in memory; `source` names it in errors.
  public init(data: Data, source: String = "<memory>") throws {
    self.source = source
    if LegacyCheckpoint.hasSignature(data) {
      let (value, opcodes) = try LegacyCheckpoint.root(of: data, source: source)
      root = value
      walkBudget = 4 * opcodes + 64
      return
    }
    guard ZipArchive.hasZipSignature(data) else {
      if data.count < 4 {
        throw CheckpointError(.truncated, source: source, "file has only \(data.count) bytes")
      }
      if data.first == 0x80 {
        throw CheckpointError(
          .unsupported, source: source,
          "a bare pickle, neither a torch.save zip archive nor its legacy format (which starts with torch's magic number)")
      }
      throw CheckpointError(
        .malformed, source: source, "not a PyTorch checkpoint: torch.save files are zip archives")
    }
    let archive = try ZipArchive(data: data, source: source)
    let pickles = archive.entries.filter {
      $0.name == "data.pkl" || ($0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2)
    }
    guard pickles.count == 1, let pickle = pickles.first else {
      throw CheckpointError(
        .malformed, source: source,
        pickles.isEmpty
          ? "zip archive has no data.pkl, so it is not a torch.save checkpoint"
          : "zip archive has \(pickles.count) data.pkl entries")
    }
    let prefix = String(pickle.name.dropLast("data.pkl".count))

    if let order = archive.entry(named: prefix + "byteorder") {
      let text = String(decoding: try archive.contents(of: order), as: UTF8.self)
      guard text == "little" else {
        throw CheckpointError(
          .unsupported, source: source, "storages are in '\(text)' byte order; only little-endian is supported")
      }
    }

    let loader = PickledStorageLoader(archive: archive, prefix: prefix)
    var unpickler = Unpickler(
      allowedGlobals: Self.allowedGlobals, persistentLoad: loader.load, reduce: Self.reduce,
      source: source, context: pickle.name)
    let pickleData = try archive.contents(of: pickle)
    do {
      root = try pickleData.withUnsafeBytes { try unpickler.load($0) }
    } catch let error as CheckpointError
      where error.kind == .forbidden && archive.entry(named: prefix + "constants.pkl") != nil
    {
      throw CheckpointError(
        .forbidden, source: source,
        "\(error.message); this is a TorchScript archive (torch.jit.save): save model.state_dict() with torch.save instead"
      )
    }
    walkBudget = 4 * unpickler.opcodeCount + 64
  }

  /// Reads the model weights of the checkpoint at `url`; see `stateDict(key:)`.
  public static func readStateDict(contentsOf url: URL, key: String? = nil) throws -> [String: Tensor] {
    try PyTorchCheckpoint(contentsOf: url).stateDict(key: key)
  }

  /// The top-level keys, when the checkpoint holds a dict (such as `["model", "optimizer", "epoch"]`).
  public var keys: [String] {
    root.dict?.entries.map { Self.name(of: $0.key) } ?? []
  }

  /// The model weights, named as PyTorch names them (`layer1.0.conv1.weight`).
  ///
  /// With `key`, the weights are the dict under that top-level key. Without it they are the
  /// top-level dict when it holds only tensors (`torch.save(model.state_dict())`), or else the
  /// dict under `state_dict`, `model`, `model_state_dict` or `module`, the keys training scripts
  /// commonly use. Nested dicts are flattened with `.`; any other value is an error naming it.
  public func stateDict(key: String? = nil) throws -> [String: Tensor] {
    guard let top = root.dict else {
      throw CheckpointError(.malformed, source: source, "checkpoint holds a \(root.typeName), not a dict of tensors")
    }
    let chosen: PickleDict
    let prefix: String
    if let key {
      guard let value = top[key] else {
        throw CheckpointError(
          .malformed, source: source, "checkpoint has no key '\(key)'; its keys are \(Self.list(keys))")
      }
      guard let dict = value.dict else {
        throw CheckpointError(.malformed, source: source, "'\(key)' holds a \(value.typeName), not a dict of tensors")
      }
      (chosen, prefix) = (dict, key + ".")
    } else if !top.entries.isEmpty, top.entries.allSatisfy({ $0.value.tensor != nil }) {
      (chosen, prefix) = (top, "")
    } else if let key = Self.stateDictKeys.first(where: { top[$0]?.dict != nil }) {
      (chosen, prefix) = (top[key]!.dict!, key + ".")
    } else if top.entries.isEmpty {
      return [:]
    } else {
      throw CheckpointError(
        .malformed, source: source,
        "cannot tell which entry holds the weights among \(Self.list(keys)); pass key: to choose one")
    }

    var tensors: [String: Tensor] = [:]
    var budget = walkBudget
    try walk(.dict(chosen), name: "", budget: &budget) { name, value in
      guard let tensor = value.tensor else {
        throw CheckpointError(
          .malformed, source: source, "'\(prefix)\(name)' holds a \(value.typeName), not a tensor")
      }
      guard tensors.updateValue(tensor, forKey: name) == nil else {
        throw CheckpointError(.malformed, source: source, "two tensors flatten to the name '\(prefix)\(name)'")
      }
    } descendingInto: { value in
      value.dict != nil
    }
    return tensors
  }

  /// Every tensor anywhere in the checkpoint, named by the keys and list positions leading to it
  /// joined with `.` (`model.fc.weight`, `optimizer.state.0.momentum_buffer`).
  public func allTensors() throws -> [String: Tensor] {
    var tensors: [String: Tensor] = [:]
    var budget = walkBudget
    try walk(root, name: "", budget: &budget) { name, value in
      guard let tensor = value.tensor else { return }
      guard tensors.updateValue(tensor, forKey: name) == nil else {
        throw CheckpointError(.malformed, source: source, "two tensors flatten to the name '\(name)'")
      }
    } descendingInto: { value in
      value.dict != nil || value.elements != nil
    }
    return tensors
  }

  /// Visits the leaves under `value`; shared subtrees are visited once per path, within `budget`.
  private func walk(
    _ value: PickleValue, name: String, budget: inout Int,
    leaf: (String, PickleValue) throws -> Void, descendingInto: (PickleValue) -> Bool
  ) throws {
    budget -= 1
    guard budget >= 0 else {
      throw CheckpointError(.malformed, source: source, "checkpoint shares values too often to be flattened")
    }
    guard descendingInto(value) else { return try leaf(name, value) }
    let join = { (child: String) in name.isEmpty ? child : name + "." + child }
    if let dict = value.dict {
      for (key, child) in dict.entries {
        try walk(child, name: join(Self.name(of: key)), budget: &budget, leaf: leaf, descendingInto: descendingInto)
      }
    } else if let elements = value.elements {
      for (i, child) in elements.enumerated() {
        try walk(child, name: join(String(i)), budget: &budget, leaf: leaf, descendingInto: descendingInto)
      }
    }
  }

  static let stateDictKeys = ["state_dict", "model", "model_state_dict", "module"]

  /// A dict key as Python's `str()` would print it.
  private static func name(of key: PickleValue) -> String {
    switch key {
    case .string(let s): s
    case .int(let i): String(i)
    case .bool(let b): b ? "True" : "False"
    case .null: "None"
    case .float(let f): String(f)
    default: "<\(key.typeName)>"
    }
  }

  private static func list(_ keys: [String]) -> String {
    keys.isEmpty ? "(none)" : keys.map { "'\($0)'" }.joined(separator: ", ")
  }

  // MARK: What the pickle may call

  /// The storage classes torch names in persistent ids, with the dtype of their elements.
  static let storageTypes: [String: DType] = [
    "torch.FloatStorage": .float32, "torch.DoubleStorage": .float64, "torch.HalfStorage": .float16,
    "torch.BFloat16Storage": .bfloat16, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
    "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8,
    "torch.BoolStorage": .bool, "torch.UntypedStorage": .uint8,
  ]

  static let allowedGlobals: Set<String> = Set(storageTypes.keys).union([
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch.device",
  ])

  /// Applies an allowed global. Gradients flags, backward hooks and parameter state are dropped:
  /// a checkpoint's tensors are data to copy into a model, not autograd graph nodes.
  static func reduce(_ global: String, _ arguments: [PickleValue]) throws -> PickleValue {
    func fail(_ message: String) -> CheckpointError { CheckpointError(.malformed, source: "", message) }
    switch global {
    case "collections.OrderedDict":
      guard arguments.isEmpty else { throw fail("OrderedDict called with \(arguments.count) arguments") }
      return .dict(PickleDict())
    case "torch._utils._rebuild_tensor_v2":
      guard (6...7).contains(arguments.count), case .object(let object) = arguments[0],
        let storage = object as? PickledStorage, let offset = arguments[1].int,
        let shape = arguments[2].elements?.compactMap(\.int), shape.count == arguments[2].elements?.count,
        let strides = arguments[3].elements?.compactMap(\.int), strides.count == arguments[3].elements?.count
      else {
        throw fail("_rebuild_tensor_v2 needs (storage, offset, sizes, strides, requires_grad, hooks), got (\(arguments.map(\.typeName).joined(separator: ", ")))")
      }
      return .object(try storage.tensor(shape: shape, strides: strides, offset: offset))
    case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
      guard (3...4).contains(arguments.count), arguments[0].tensor != nil else {
        throw fail("\(global) needs a tensor first, got (\(arguments.map(\.typeName).joined(separator: ", ")))")
      }
      return arguments[0]
    case "torch.device":
      let parts = arguments.map { value -> String in
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        default: value.typeName
        }
      }
      return .string(parts.joined(separator: ":"))
    default:
      throw CheckpointError(.forbidden, source: "", "calling '\(global)' is not allowed")
    }
  }
}
