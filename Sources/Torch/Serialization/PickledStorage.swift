import Foundation

/// One tensor storage of the archive: the raw bytes of `NAME/data/KEY` viewed as `dtype`.
final class PickledStorage {
  let key: String
  let dtype: DType
  let bytes: Data
  let count: Int

  init(key: String, dtype: DType, bytes: Data, count: Int) {
    self.key = key
    self.dtype = dtype
    self.bytes = bytes
    self.count = count
  }

  /// A contiguous copy of the view `shape`/`strides`/`offset` into this storage.
  func tensor(shape: [Int], strides: [Int], offset: Int) throws -> Tensor {
    let layout: StridedLayout
    do {
      layout = try StridedLayout(shape: shape, strides: strides, offset: offset, storageCount: count) {
        "tensor in storage '\(key)'"
      }
    } catch {
      throw CheckpointError(.malformed, source: "", error.message)
    }
    let elementSize = dtype.byteSize
    let make = { (elements: UnsafeRawBufferPointer) throws -> Tensor in
      if self.dtype == .bool, let bad = elements.first(where: { $0 > 1 }) {
        throw CheckpointError(.malformed, source: "", "bool tensor in storage '\(self.key)' holds byte \(bad)")
      }
      return Tensor(bytes: elements, shape: shape, dtype: self.dtype)
    }
    return try bytes.withUnsafeBytes { storage in
      if layout.count == 0 {
        return try make(UnsafeRawBufferPointer(start: nil, count: 0))
      }
      if layout.isContiguous {
        // The common case: the elements are one run of the (memory-mapped) entry; copy it once.
        let start = layout.offset * elementSize
        return try make(UnsafeRawBufferPointer(rebasing: storage[start..<(start + layout.count * elementSize)]))
      }
      var buffer = [UInt8](repeating: 0, count: layout.count * elementSize)
      buffer.withUnsafeMutableBytes { layout.gather(from: storage, elementSize: elementSize, into: $0) }
      return try buffer.withUnsafeBytes(make)
    }
  }
}

/// Resolves torch's persistent ids, `('storage', StorageClass, key, location, numel)`, to the
/// archive's storage entries. Views of one storage share the bytes, which are read (and
/// CRC-checked) once.
final class PickledStorageLoader {
  let archive: ZipArchive
  let prefix: String
  private var cache: [String: Data] = [:]

  init(archive: ZipArchive, prefix: String) {
    self.archive = archive
    self.prefix = prefix
  }

  func load(_ id: PickleValue) throws -> PickleValue {
    func fail(_ message: String) -> CheckpointError { CheckpointError(.malformed, source: "", message) }
    guard let fields = id.elements, fields.count == 5, fields[0].string == "storage" else {
      throw fail("persistent id is not ('storage', type, key, location, numel)")
    }
    guard case .global(let type) = fields[1], let dtype = PyTorchCheckpoint.storageTypes[type] else {
      throw CheckpointError(.unsupported, source: "", "storage of type \(fields[1].typeName) is not supported")
    }
    guard let key = fields[2].string, let count = fields[4].int, count >= 0 else {
      throw fail("persistent id has a bad key or element count")
    }
    let bytes: Data
    if let cached = cache[key] {
      bytes = cached
    } else {
      let name = prefix + "data/" + key
      guard let entry = archive.entry(named: name) else {
        throw fail("storage '\(key)' has no zip entry '\(name)'")
      }
      bytes = try archive.contents(of: entry)
      cache[key] = bytes
    }
    let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow, needed <= bytes.count else {
      throw CheckpointError(
        .truncated, source: "",
        "storage '\(key)' should hold \(count) \(dtype) elements but its entry has \(bytes.count) bytes")
    }
    return .object(PickledStorage(key: key, dtype: dtype, bytes: bytes, count: count))
  }
}
