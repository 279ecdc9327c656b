/// A cursor over untrusted bytes whose every read is bounds-checked.
///
/// Checkpoint parsers take lengths and offsets from the file itself; routing all reads through
/// this type keeps a lying length from ever reading outside the buffer, and turns it into a
/// `.truncated` error that says what was being read and where. It holds a raw pointer, so it
/// lives only inside the `withUnsafeBytes` scope that produced the buffer.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer
  var offset: Int
  /// The file, for error messages.
  let source: String
  /// What the bytes are (such as "zip entry 'archive/data.pkl'"), for error messages.
  let context: String

  init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, source: String, context: String) {
    self.bytes = bytes
    self.offset = offset
    self.source = source
    self.context = context
  }

  var remaining: Int { bytes.count - offset }
  var isAtEnd: Bool { offset >= bytes.count }

  func truncated(_ what: String, needing count: Int) -> CheckpointError {
    CheckpointError(
      .truncated, source: source,
      "truncated \(context): \(what) needs \(count) bytes at offset \(offset) but only \(max(remaining, 0)) remain")
  }

  /// Moves to an absolute offset, which may be the end but not past it.
  mutating func seek(to position: Int, reading what: String) throws {
    guard position >= 0, position <= bytes.count else {
      throw CheckpointError(
        .truncated, source: source,
        "truncated \(context): \(what) is at offset \(position) but there are only \(bytes.count) bytes")
    }
    offset = position
  }

  mutating func skip(_ count: Int, reading what: String) throws {
    guard count >= 0, count <= remaining else { throw truncated(what, needing: count) }
    offset += count
  }

  mutating func readByte(_ what: String) throws -> UInt8 {
    guard remaining >= 1 else { throw truncated(what, needing: 1) }
    defer { offset += 1 }
    return bytes[offset]
  }

  /// A little-endian integer of `T`'s width.
  mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
    let size = MemoryLayout<T>.size
    guard remaining >= size else { throw truncated(what, needing: size) }
    defer { offset += size }
    return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
  }

  /// `count` bytes as a view into the buffer (no copy).
  mutating func readBytes(_ count: Int, _ what: String) throws -> UnsafeRawBufferPointer {
    guard count >= 0, count <= remaining else { throw truncated(what, needing: count) }
    defer { offset += count }
    return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
  }

  /// A length read from the file, as an `Int`; lengths beyond `Int` are necessarily truncations.
  mutating func readLength<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type, _ what: String) throws -> Int {
    let value = try read(T.self, what)
    guard let length = Int(exactly: value) else { throw truncated(what, needing: Int.max) }
    return length
  }
}

/// Decodes UTF-8, refusing invalid sequences instead of replacing them.
///
/// A name with replaced characters would silently fail to match the parameter it was meant for;
/// Swift's repairing decoder changes the bytes exactly when they are invalid, so comparing the
/// result with the input detects that.
func decodeUTF8Strictly(_ bytes: UnsafeRawBufferPointer) -> String? {
  let string = String(decoding: bytes, as: UTF8.self)
  return string.utf8.elementsEqual(bytes) ? string : nil
}
