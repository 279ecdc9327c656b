import Foundation

/// PyTorch's legacy `torch.save` format (before 1.6, and `_use_new_zipfile_serialization=False`
/// since, which mmdetection's `publish_model.py` uses for every file of its model zoo): five
/// pickles in a row — the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a
/// `sys_info` dict (byte order, C type sizes), the saved object (its storages as persistent ids
/// `('storage', StorageClass, key, location, numel, view_metadata)`), the list of storage keys —
/// then each storage in key order as an int64 element count and its raw little-endian bytes.
///
/// The storages lie after the pickle that refers to them, so the object is unpickled twice by
/// the restricted unpickler: once with inert callbacks to find where it ends and each storage's
/// element type, once with the storages' bytes in hand.
enum LegacyCheckpoint {
  /// The pickle of the magic number: PROTO 2, LONG1 of 10 bytes (little-endian), STOP.
  static let magicPickle: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

  static func hasSignature(_ data: Data) -> Bool { data.starts(with: magicPickle) }

  /// The saved object and the number of opcodes its pickle ran.
  static func root(of data: Data, source: String) throws -> (PickleValue, opcodes: Int) {
    try data.withUnsafeBytes { bytes -> (PickleValue, opcodes: Int) in
      var offset = magicPickle.count
      func plain(_ what: String) -> Unpickler {
        Unpickler(
          allowedGlobals: [], persistentLoad: { _ in throw CheckpointError(.malformed, source: "", "persistent id in the \(what)") },
          reduce: { global, _ in throw CheckpointError(.forbidden, source: "", "calling '\(global)' in the \(what)") },
          source: source, context: what)
      }
      func next(_ unpickler: inout Unpickler) throws -> PickleValue {
        let value = try unpickler.load(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        offset += unpickler.consumed
        return value
      }

      var protocolReader = plain("legacy protocol version")
      guard case .int(1001) = try next(&protocolReader) else {
        throw CheckpointError(.unsupported, source: source, "legacy torch.save file with an unknown protocol version")
      }
      var infoReader = plain("legacy sys_info")
      let info = try next(&infoReader)
      if let littleEndian = info.dict?["little_endian"], case .bool(false) = littleEndian {
        throw CheckpointError(.unsupported, source: source, "storages are big-endian; only little-endian is supported")
      }

      // First pass: where the object's pickle ends, and each storage's element type and count.
      let objectStart = offset
      var storages: [String: (dtype: DType, count: Int)] = [:]
      var scout = Unpickler(
        allowedGlobals: PyTorchCheckpoint.allowedGlobals,
        persistentLoad: { id in
          let (key, dtype, count) = try persistentID(id)
          if let known = storages[key], known.dtype != dtype {
            throw CheckpointError(.malformed, source: "", "storage '\(key)' named with two element types")
          }
          storages[key] = (dtype, max(count, storages[key]?.count ?? 0))
          return .null
        },
        reduce: { global, _ in
          guard PyTorchCheckpoint.allowedGlobals.contains(global) else {
            throw CheckpointError(.forbidden, source: "", "calling '\(global)' is not allowed")
          }
          return global == "collections.OrderedDict" ? .dict(PickleDict()) : .null
        },
        source: source, context: "legacy object pickle")
      _ = try next(&scout)
      let objectEnd = offset

      var keysReader = plain("legacy storage keys")
      guard let keys = try next(&keysReader).elements?.compactMap(\.string) else {
        throw CheckpointError(.malformed, source: source, "legacy storage key list is not a list of strings")
      }

      // The storages, in the key list's order.
      var reader = ByteReader(bytes, offset: offset, source: source, context: "legacy storages")
      var contents: [String: Data] = [:]
      for key in keys {
        let count = Int(try reader.read(Int64.self, "storage '\(key)' element count"))
        guard let known = storages[key] else {
          throw CheckpointError(.malformed, source: source, "storage '\(key)' is stored but never used")
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: known.dtype.byteSize)
        guard count >= known.count, !overflow, size <= reader.remaining else {
          throw CheckpointError(.truncated, source: source, "storage '\(key)' should hold \(known.count) \(known.dtype) elements")
        }
        contents[key] = data.subdata(in: (data.startIndex + reader.offset)..<(data.startIndex + reader.offset + size))
        reader.offset += size
      }

      // Second pass: the object, its storages' bytes at hand.
      var unpickler = Unpickler(
        allowedGlobals: PyTorchCheckpoint.allowedGlobals,
        persistentLoad: { id in
          let (key, dtype, count) = try persistentID(id)
          guard let bytes = contents[key] else {
            throw CheckpointError(.malformed, source: "", "storage '\(key)' is not in the file's storage list")
          }
          return .object(PickledStorage(key: key, dtype: dtype, bytes: bytes, count: count))
        },
        reduce: PyTorchCheckpoint.reduce, source: source, context: "legacy object pickle")
      let root = try unpickler.load(UnsafeRawBufferPointer(rebasing: bytes[objectStart..<objectEnd]))
      return (root, unpickler.opcodeCount)
    }
  }

  /// `(key, element type, element count)` of `('storage', StorageClass, key, location, numel, view_metadata)`.
  private static func persistentID(_ id: PickleValue) throws -> (String, DType, Int) {
    func fail(_ message: String) -> CheckpointError { CheckpointError(.malformed, source: "", message) }
    guard let fields = id.elements, fields.count == 6, fields[0].string == "storage" else {
      throw fail("persistent id is not ('storage', type, key, location, numel, view_metadata)")
    }
    guard case .global(let type) = fields[1], let dtype = PyTorchCheckpoint.storageTypes[type] else {
      throw CheckpointError(.unsupported, source: "", "storage of type \(fields[1].typeName) is not supported")
    }
    guard let key = fields[2].string, let count = fields[4].int, count >= 0 else {
      throw fail("persistent id has a bad key or element count")
    }
    guard case .null = fields[5] else {
      throw CheckpointError(.unsupported, source: "", "storage '\(key)' is a view of another storage (pre-1.0 torch.save)")
    }
    return (key, dtype, count)
  }
}
