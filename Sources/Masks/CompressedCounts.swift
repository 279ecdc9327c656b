/// A compressed `counts` string that could not be read.
public struct CompressedCountsError: Error, Hashable, Sendable, CustomStringConvertible {
  public let offset: Int
  public let reason: String
  public var description: String { "compressed RLE counts, character \(offset): \(reason)" }
}

extension RLE {
  /// Reads COCO's compressed `counts` string.
  ///
  /// The format is LEB128-like with 5 payload bits per character, offset into printable ASCII
  /// (48...111); from the fourth run on each value is stored as the difference to the run two
  /// places earlier, which keeps repeated shapes short.
  public init(height: Int, width: Int, compressedCounts: String) throws(CompressedCountsError) {
    var source = compressedCounts
    let parsed = source.withUTF8 { RLE.parseCompressed($0) }
    let counts = try parsed.get()
    self.init(height: height, width: width, counts: counts)
  }

  private static func parseCompressed(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[UInt32], CompressedCountsError> {
    var counts: [UInt32] = []
    counts.reserveCapacity(bytes.count)
    var position = 0
    while position < bytes.count {
      var value: Int64 = 0
      var shift: Int64 = 0
      var more = true
      while more {
        guard position < bytes.count else {
          return .failure(CompressedCountsError(offset: position, reason: "the string ends inside a number"))
        }
        let byte = bytes[position]
        guard byte >= 48 && byte < 112 else {
          return .failure(CompressedCountsError(offset: position, reason: "character \(byte) is outside '0'...'o'"))
        }
        guard shift < 60 else {
          return .failure(CompressedCountsError(offset: position, reason: "a number is too long"))
        }
        let chunk = Int64(byte - 48)
        value |= (chunk & 0x1f) << shift
        more = chunk & 0x20 != 0
        position += 1
        shift += 5
        if !more && chunk & 0x10 != 0 {
          value |= -1 << shift
        }
      }
      if counts.count > 2 { value += Int64(counts[counts.count - 2]) }
      counts.append(UInt32(truncatingIfNeeded: value))
    }
    return .success(counts)
  }

  /// The counts in COCO's compressed string form (what pycocotools' `encode` returns).
  public var compressedCounts: String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(counts.count * 2)
    for index in counts.indices {
      var value = Int64(counts[index])
      if index > 2 { value -= Int64(counts[index - 2]) }
      var more = true
      while more {
        var chunk = UInt8(truncatingIfNeeded: value & 0x1f)
        value >>= 5
        more = chunk & 0x10 != 0 ? value != -1 : value != 0
        if more { chunk |= 0x20 }
        bytes.append(chunk + 48)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
