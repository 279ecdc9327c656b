import Foundation

/// The safetensors checkpoint format: named tensors as raw bytes behind a JSON header.
///
/// Unlike a pickle, a safetensors file is pure data, so it is the format SimpleDet writes. The
/// layout is an 8-byte little-endian header length, the JSON header mapping each name to
/// `{"dtype", "shape", "data_offsets"}` (plus an optional `"__metadata__"` map of strings), then
/// the tensors' bytes. Reading validates everything the reference implementation validates
/// (offsets must tile the data section exactly) and reports each problem with the file's name;
/// writing reproduces the reference writer's bytes for the same tensors and metadata.
///
///     try SafeTensors.write(["fc.weight": w, "fc.bias": b], metadata: ["epoch": "3"], to: url)
///     let weights = try SafeTensors.read(contentsOf: url)
public enum SafeTensors {
  /// Reads the tensors of the file at `url`, which is memory-mapped so the bytes are copied once.
  public static func read(contentsOf url: URL) throws -> [String: Tensor] {
    try readWithMetadata(contentsOf: url).tensors
  }

  /// Reads the tensors and the `__metadata__` string map of the file at `url`.
  public static func readWithMetadata(contentsOf url: URL) throws -> (
    tensors: [String: Tensor], metadata: [String: String]
  ) {
    try decode(try readCheckpointFile(url), source: url.path)
  }

  /// Writes `tensors` (copied to the CPU, row-major) and `metadata` to `url` atomically, so an
  /// interrupted save leaves the previous file intact.
  public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
    try writeAtomically(try encode(tensors, metadata: metadata, source: url.path), to: url)
  }

  /// The bytes of a safetensors file holding `tensors` and `metadata`.
  ///
  /// The output is deterministic: tensors are laid out by element type from widest to narrowest
  /// (the reference writer's order, which keeps every tensor aligned to its element size), then
  /// by name; metadata keys are sorted. The header is padded with spaces to a multiple of 8.
  public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
    try encode(tensors, metadata: metadata, source: "<memory>")
  }

  private static func encode(_ tensors: [String: Tensor], metadata: [String: String], source: String) throws -> Data {
    if tensors["__metadata__"] != nil {
      throw CheckpointError(.malformed, source: source, "'__metadata__' is reserved and cannot name a tensor")
    }
    if let undefined = tensors.first(where: { !$0.value.isDefined }) {
      throw CheckpointError(.malformed, source: source, "tensor '\(undefined.key)' is undefined (a failed operation's placeholder)")
    }
    let ordered = tensors.map { (name: $0.key, tensor: $0.value, dtype: $0.value.dtype) }.sorted { a, b in
      let (rankA, rankB) = (writeOrder[a.dtype]!, writeOrder[b.dtype]!)
      return rankA != rankB ? rankA > rankB : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }

    var header = "{"
    var members: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
      members.append(
        "\"__metadata__\":{" + pairs.map { jsonQuoted($0.key) + ":" + jsonQuoted($0.value) }.joined(separator: ",") + "}")
    }
    // Offsets come from the shapes, so each tensor's bytes can go straight into the output
    // once the header is written: the peak memory is the file plus one tensor.
    var offset = 0
    for (name, tensor, dtype) in ordered {
      let size = tensor.count * dtype.byteSize
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      members.append(
        jsonQuoted(name) + ":{\"dtype\":\"\(names[dtype]!)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
      offset += size
    }
    header += members.joined(separator: ",") + "}"
    var headerBytes = Array(header.utf8)
    headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

    var data = Data(capacity: 8 + headerBytes.count + offset)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: headerBytes)
    for entry in ordered { data.append(contentsOf: entry.tensor.bytes()) }
    precondition(data.count == 8 + headerBytes.count + offset, "SafeTensors.encode: tensor sizes changed while encoding")
    return data
  }

  /// Reads a safetensors file held in memory; `source` names it in errors.
  public static func decode(_ data: Data, source: String = "<memory>") throws -> (
    tensors: [String: Tensor], metadata: [String: String]
  ) {
    try data.withUnsafeBytes { raw in try decode(raw, source: source) }
  }

  // MARK: Reading

  /// The reference implementation's limit; a larger header is a corrupt length, not a real file.
  static let maximumHeaderSize = 100_000_000

  private struct Entry {
    let name: String
    let dtype: DType
    let shape: [Int]
    let begin: Int
    let end: Int
  }

  private static func decode(_ raw: UnsafeRawBufferPointer, source: String) throws -> (
    tensors: [String: Tensor], metadata: [String: String]
  ) {
    func fail(_ kind: CheckpointError.Kind, _ message: String) -> CheckpointError {
      CheckpointError(kind, source: source, message)
    }
    guard raw.count >= 8 else {
      throw fail(.truncated, "file has \(raw.count) bytes, fewer than the 8-byte header length")
    }
    let length = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
    guard length <= UInt64(maximumHeaderSize) else {
      throw fail(.malformed, "header length \(length) exceeds the \(maximumHeaderSize)-byte limit (not a safetensors file?)")
    }
    let headerSize = Int(length)
    guard headerSize <= raw.count - 8 else {
      throw fail(.truncated, "header length \(headerSize) runs past the end of the \(raw.count)-byte file")
    }
    let headerBytes = UnsafeRawBufferPointer(rebasing: raw[8..<(8 + headerSize)])
    guard headerBytes.first == UInt8(ascii: "{") else {
      throw fail(.malformed, "header does not start with '{' (not a safetensors file?)")
    }
    let header: JSONValue
    do {
      header = try JSONValue.parse(headerBytes)
    } catch {
      let duplicate = error.message.hasPrefix("duplicate key")
      throw fail(
        .malformed,
        duplicate
          ? "header names a tensor twice: \(error.message)"
          : "header is not valid JSON: \(error.message) at byte \(error.offset) of the header")
    }
    guard case .object(let members) = header else {
      throw fail(.malformed, "header is a JSON \(header.typeName), not an object")
    }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []
    for (name, value) in members {
      if name == "__metadata__" {
        guard case .object(let pairs) = value else {
          throw fail(.malformed, "__metadata__ is a JSON \(value.typeName), not an object of strings")
        }
        for (key, item) in pairs {
          guard case .string(let text) = item else {
            throw fail(.malformed, "__metadata__ value '\(key)' is a JSON \(item.typeName), not a string")
          }
          metadata[key] = text
        }
        continue
      }
      entries.append(try entry(name: name, value, fail: fail))
    }

    // The reference requires the tensors to tile the data section: in offset order, each begins
    // where the previous ended, and the last ends at the end of the file.
    let dataSize = raw.count - 8 - headerSize
    var cursor = 0
    var previous: String?
    for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
      let span = "'\(entry.name)' (data_offsets [\(entry.begin), \(entry.end)])"
      if entry.begin < cursor {
        throw fail(.malformed, "tensor \(span) overlaps '\(previous ?? "")', which ends at \(cursor)")
      }
      if entry.begin > cursor {
        throw fail(.malformed, "gap of \(entry.begin - cursor) unused bytes before tensor \(span)")
      }
      if entry.end > dataSize {
        throw fail(
          .truncated,
          "tensor \(span) runs past the end of the data, which has \(dataSize) bytes (the file is cut short)")
      }
      cursor = entry.end
      previous = entry.name
    }
    if cursor != dataSize {
      throw fail(.malformed, "\(dataSize - cursor) bytes after the last tensor belong to no tensor")
    }

    let dataStart = 8 + headerSize
    var tensors: [String: Tensor] = [:]
    for entry in entries {
      let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)])
      if entry.dtype == .bool, let bad = bytes.first(where: { $0 > 1 }) {
        throw fail(.malformed, "bool tensor '\(entry.name)' holds byte \(bad), not 0 or 1")
      }
      tensors[entry.name] = Tensor(bytes: bytes, shape: entry.shape, dtype: entry.dtype)
    }
    return (tensors, metadata)
  }

  private static func entry(
    name: String, _ value: JSONValue, fail: (CheckpointError.Kind, String) -> CheckpointError
  ) throws -> Entry {
    guard case .object(let fields) = value else {
      throw fail(.malformed, "entry for tensor '\(name)' is a JSON \(value.typeName), not an object")
    }
    func field(_ key: String) throws -> JSONValue {
      guard let found = fields.first(where: { $0.key == key }) else {
        throw fail(.malformed, "tensor '\(name)' has no \"\(key)\"")
      }
      return found.value
    }
    func integer(_ value: JSONValue, _ what: String) throws -> Int {
      guard case .number(let text) = value else {
        throw fail(.malformed, "\(what) of tensor '\(name)' is a JSON \(value.typeName), not an integer")
      }
      if text.hasPrefix("-") {
        throw fail(.malformed, "\(what) of tensor '\(name)' is negative (\(text))")
      }
      guard let number = Int(text) else {
        throw fail(.malformed, "\(what) of tensor '\(name)' is not a non-negative integer (\(text))")
      }
      return number
    }

    guard case .string(let dtypeName) = try field("dtype") else {
      throw fail(.malformed, "dtype of tensor '\(name)' is not a string")
    }
    guard let dtype = dtypes[dtypeName] else {
      throw fail(
        .unsupported,
        "tensor '\(name)' has dtype '\(dtypeName)', which SimpleDet does not support (supported: \(supportedNames))")
    }
    guard case .array(let dims) = try field("shape") else {
      throw fail(.malformed, "shape of tensor '\(name)' is not an array")
    }
    let shape = try dims.map { try integer($0, "a dimension in the shape") }
    guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2 else {
      throw fail(.malformed, "data_offsets of tensor '\(name)' is not an array of two integers")
    }
    let begin = try integer(offsets[0], "data_offsets")
    let end = try integer(offsets[1], "data_offsets")
    guard begin <= end else {
      throw fail(.malformed, "data_offsets of tensor '\(name)' end (\(end)) before they begin (\(begin))")
    }
    // Even an empty tensor needs its row-major strides to fit, hence the product over max(d, 1).
    var size = dtype.byteSize
    var span = dtype.byteSize
    for dimension in shape {
      let (product, overflow) = size.multipliedReportingOverflow(by: dimension)
      let (extent, overflow2) = span.multipliedReportingOverflow(by: max(dimension, 1))
      guard !overflow, !overflow2 else { throw fail(.malformed, "shape \(shape) of tensor '\(name)' is too large") }
      size = product
      span = extent
    }
    guard end - begin == size else {
      throw fail(
        .malformed,
        "tensor '\(name)' is \(dtypeName) \(shape), \(size) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin)")
    }
    return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
  }

  // MARK: Names

  static let names: [DType: String] = [
    .float32: "F32", .float64: "F64", .float16: "F16", .bfloat16: "BF16", .int64: "I64",
    .int32: "I32", .int16: "I16", .int8: "I8", .uint8: "U8", .bool: "BOOL",
  ]
  static let dtypes: [String: DType] = Dictionary(uniqueKeysWithValues: names.map { ($0.value, $0.key) })
  private static let supportedNames = names.values.sorted().joined(separator: ", ")

  /// The reference writer sorts by its dtype enum, widest types last in declaration; writing in
  /// descending order of this rank reproduces its layout.
  private static let writeOrder: [DType: Int] = [
    .bool: 0, .uint8: 1, .int8: 2, .int16: 3, .float16: 4, .bfloat16: 5, .int32: 6, .float32: 7,
    .float64: 8, .int64: 9,
  ]
}
