/// The CRC-32 zip archives store for every entry (IEEE 802.3 polynomial, reflected).
///
/// Checking it is what turns a flipped bit in a downloaded checkpoint into an error instead of a
/// silently wrong weight.
enum CRC32 {
  private static let table: [UInt32] = (0..<256).map { (n: UInt32) in
    var c = n
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    table.withUnsafeBufferPointer { table in
      var crc: UInt32 = 0xFFFF_FFFF
      for byte in bytes {
        crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
      }
      return crc ^ 0xFFFF_FFFF
    }
  }
}
