import Foundation

/// A read-only view of a zip archive whose entries are stored uncompressed, as `torch.save`
/// writes them.
///
/// Only what PyTorch checkpoints need is supported: one disk, stored entries, ZIP64 records and
/// extra fields (checkpoints over 4 GiB, and torch always writes a ZIP64 end record). Entry
/// contents are slices of the archive's `Data`, so a memory-mapped archive is never copied here.
/// Everything is located through the central directory, because torch sets the data-descriptor
/// flag and leaves sizes in the local headers zero.
struct ZipArchive {
  struct Entry {
    let name: String
    let flags: UInt16
    let method: UInt16
    let crc32: UInt32
    let compressedSize: Int
    let uncompressedSize: Int
    let localHeaderOffset: Int
  }

  let data: Data
  let source: String
  /// Entries in central-directory order.
  let entries: [Entry]
  private let indexByName: [String: Int]

  static let localHeaderSignature: UInt32 = 0x0403_4B50
  private static let centralHeaderSignature: UInt32 = 0x0201_4B50
  private static let endSignature: UInt32 = 0x0605_4B50
  private static let zip64EndSignature: UInt32 = 0x0606_4B50
  private static let zip64LocatorSignature: UInt32 = 0x0706_4B50

  /// Whether `data` starts like a zip archive (a local file header).
  static func hasZipSignature(_ data: Data) -> Bool {
    data.count >= 4 && data.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
  }

  init(data: Data, source: String) throws {
    self.data = data
    self.source = source
    let entries = try data.withUnsafeBytes { raw in try Self.readCentralDirectory(raw, source: source) }
    var index: [String: Int] = [:]
    for (i, entry) in entries.enumerated() {
      guard index.updateValue(i, forKey: entry.name) == nil else {
        throw CheckpointError(.malformed, source: source, "zip archive lists entry '\(entry.name)' twice")
      }
    }
    self.entries = entries
    self.indexByName = index
  }

  func entry(named name: String) -> Entry? { indexByName[name].map { entries[$0] } }

  /// The bytes of a stored entry, checked against its CRC-32.
  func contents(of entry: Entry) throws -> Data {
    guard entry.flags & 1 == 0 else {
      throw CheckpointError(.unsupported, source: source, "zip entry '\(entry.name)' is encrypted")
    }
    guard entry.method == 0 else {
      let method = entry.method == 8 ? "deflate (method 8)" : "method \(entry.method)"
      throw CheckpointError(
        .unsupported, source: source,
        "zip entry '\(entry.name)' is compressed with \(method); only stored entries are read, as torch.save writes them (re-save with torch.save, or re-zip with -0)"
      )
    }
    guard entry.compressedSize == entry.uncompressedSize else {
      throw CheckpointError(
        .malformed, source: source,
        "stored zip entry '\(entry.name)' has compressed size \(entry.compressedSize) but size \(entry.uncompressedSize)")
    }
    let range: Range<Int> = try data.withUnsafeBytes { raw in
      var reader = ByteReader(raw, source: source, context: "zip entry '\(entry.name)'")
      try reader.seek(to: entry.localHeaderOffset, reading: "its local header")
      guard try reader.read(UInt32.self, "local header signature") == Self.localHeaderSignature else {
        throw CheckpointError(
          .malformed, source: source,
          "zip entry '\(entry.name)': no local header at offset \(entry.localHeaderOffset)")
      }
      try reader.skip(22, reading: "local header")
      let nameLength = Int(try reader.read(UInt16.self, "local name length"))
      let extraLength = Int(try reader.read(UInt16.self, "local extra length"))
      let localName = try reader.readBytes(nameLength, "local name")
      guard localName.elementsEqual(entry.name.utf8) else {
        throw CheckpointError(
          .malformed, source: source,
          "zip entry '\(entry.name)': its local header names '\(String(decoding: localName, as: UTF8.self))'")
      }
      try reader.skip(extraLength, reading: "local extra field")
      let start = reader.offset
      _ = try reader.readBytes(entry.compressedSize, "entry data")
      let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<reader.offset]))
      guard crc == entry.crc32 else {
        throw CheckpointError(
          .malformed, source: source,
          "zip entry '\(entry.name)' fails its CRC-32 check (the file is corrupted)")
      }
      return start..<reader.offset
    }
    let base = data.startIndex
    return data[(base + range.lowerBound)..<(base + range.upperBound)]
  }

  private static func readCentralDirectory(_ raw: UnsafeRawBufferPointer, source: String) throws -> [Entry] {
    let end = try findEndRecord(raw, source: source)
    var reader = ByteReader(raw, source: source, context: "zip end of central directory")
    try reader.seek(to: end + 4, reading: "end record")
    let disk = try reader.read(UInt16.self, "disk number")
    let directoryDisk = try reader.read(UInt16.self, "central directory disk")
    _ = try reader.read(UInt16.self, "entries on this disk")
    var count = Int(try reader.read(UInt16.self, "entry count"))
    var directorySize = Int(try reader.read(UInt32.self, "central directory size"))
    var directoryOffset = Int(try reader.read(UInt32.self, "central directory offset"))
    var directoryLimit = end

    // A ZIP64 locator sits right before the end record whenever the archive has ZIP64 records;
    // its values replace the 16- and 32-bit ones (which then read 0xFFFF...).
    if end >= 20,
      raw.loadUnaligned(fromByteOffset: end - 20, as: UInt32.self).littleEndian == zip64LocatorSignature
    {
      var locator = ByteReader(raw, offset: end - 16, source: source, context: "zip64 end locator")
      _ = try locator.read(UInt32.self, "zip64 disk")
      let recordOffset = try locator.readLength(UInt64.self, "zip64 end record offset")
      guard recordOffset <= end - 20 else {
        throw CheckpointError(
          .malformed, source: source, "zip64 end record offset \(recordOffset) points past its locator")
      }
      var record = ByteReader(raw, offset: recordOffset, source: source, context: "zip64 end record")
      guard try record.read(UInt32.self, "zip64 end signature") == zip64EndSignature else {
        throw CheckpointError(.malformed, source: source, "no zip64 end record at offset \(recordOffset)")
      }
      try record.skip(8 + 2 + 2, reading: "zip64 end record header")
      let disk64 = try record.read(UInt32.self, "zip64 disk number")
      let directoryDisk64 = try record.read(UInt32.self, "zip64 central directory disk")
      guard disk64 == 0, directoryDisk64 == 0 else {
        throw CheckpointError(.unsupported, source: source, "multi-disk zip archives are not supported")
      }
      _ = try record.read(UInt64.self, "zip64 entries on this disk")
      count = try record.readLength(UInt64.self, "zip64 entry count")
      directorySize = try record.readLength(UInt64.self, "zip64 central directory size")
      directoryOffset = try record.readLength(UInt64.self, "zip64 central directory offset")
      directoryLimit = recordOffset
    } else {
      guard disk == 0, directoryDisk == 0 else {
        throw CheckpointError(.unsupported, source: source, "multi-disk zip archives are not supported")
      }
    }

    guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
      throw CheckpointError(
        .truncated, source: source,
        "zip central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the file; the file is cut short or damaged"
      )
    }
    // Each central header takes at least 46 bytes, which bounds what a lying count can allocate.
    guard count <= directorySize / 46 else {
      throw CheckpointError(
        .malformed, source: source,
        "zip end record claims \(count) entries in a central directory of \(directorySize) bytes")
    }

    let directory = UnsafeRawBufferPointer(rebasing: raw[directoryOffset..<(directoryOffset + directorySize)])
    var headers = ByteReader(directory, source: source, context: "zip central directory")
    var entries: [Entry] = []
    entries.reserveCapacity(count)
    for _ in 0..<count {
      entries.append(try readCentralHeader(&headers, archiveSize: raw.count))
    }
    return entries
  }

  /// The offset of the end-of-central-directory record, searched backwards past a possible comment.
  private static func findEndRecord(_ raw: UnsafeRawBufferPointer, source: String) throws -> Int {
    let minimum = 22
    if raw.count >= minimum {
      let lowest = max(0, raw.count - minimum - 0xFFFF)
      var position = raw.count - minimum
      while position >= lowest {
        if raw.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian == endSignature {
          let commentLength = Int(raw.loadUnaligned(fromByteOffset: position + 20, as: UInt16.self).littleEndian)
          if position + minimum + commentLength <= raw.count { return position }
        }
        position -= 1
      }
    }
    throw CheckpointError(
      .truncated, source: source,
      "zip archive has no end-of-central-directory record (\(raw.count) bytes); the file is cut short")
  }

  private static func readCentralHeader(_ reader: inout ByteReader, archiveSize: Int) throws -> Entry {
    let source = reader.source
    let at = reader.offset
    guard try reader.read(UInt32.self, "central header signature") == centralHeaderSignature else {
      throw CheckpointError(
        .malformed, source: source, "zip central directory has no entry header at offset \(at)")
    }
    try reader.skip(4, reading: "versions")
    let flags = try reader.read(UInt16.self, "flags")
    let method = try reader.read(UInt16.self, "compression method")
    try reader.skip(4, reading: "modification time")
    let crc = try reader.read(UInt32.self, "crc-32")
    var compressedSize = Int(try reader.read(UInt32.self, "compressed size"))
    var uncompressedSize = Int(try reader.read(UInt32.self, "size"))
    let nameLength = Int(try reader.read(UInt16.self, "name length"))
    let extraLength = Int(try reader.read(UInt16.self, "extra length"))
    let commentLength = Int(try reader.read(UInt16.self, "comment length"))
    let disk = try reader.read(UInt16.self, "disk number")
    try reader.skip(6, reading: "attributes")
    var localHeaderOffset = Int(try reader.read(UInt32.self, "local header offset"))
    guard let name = decodeUTF8Strictly(try reader.readBytes(nameLength, "entry name")) else {
      throw CheckpointError(.malformed, source: source, "zip entry name at offset \(at) is not UTF-8")
    }
    var extra = ByteReader(
      try reader.readBytes(extraLength, "extra field"), source: source, context: "extra field of '\(name)'")
    try reader.skip(commentLength, reading: "entry comment")

    // The ZIP64 extra field holds, in this order, exactly the values whose 32-bit field is all ones.
    while !extra.isAtEnd {
      let id = try extra.read(UInt16.self, "extra field id")
      let size = Int(try extra.read(UInt16.self, "extra field size"))
      var field = ByteReader(
        try extra.readBytes(size, "extra field data"), source: source, context: "zip64 extra field of '\(name)'")
      guard id == 0x0001 else { continue }
      if uncompressedSize == 0xFFFF_FFFF { uncompressedSize = try field.readLength(UInt64.self, "zip64 size") }
      if compressedSize == 0xFFFF_FFFF {
        compressedSize = try field.readLength(UInt64.self, "zip64 compressed size")
      }
      if localHeaderOffset == 0xFFFF_FFFF {
        localHeaderOffset = try field.readLength(UInt64.self, "zip64 local header offset")
      }
    }
    guard disk == 0 || disk == 0xFFFF else {
      throw CheckpointError(.unsupported, source: source, "zip entry '\(name)' is on disk \(disk) of a multi-disk archive")
    }
    guard localHeaderOffset < archiveSize, compressedSize <= archiveSize else {
      throw CheckpointError(
        .truncated, source: source,
        "zip entry '\(name)' (offset \(localHeaderOffset), \(compressedSize) bytes) lies outside the \(archiveSize)-byte file"
      )
    }
    return Entry(
      name: name, flags: flags, method: method, crc32: crc, compressedSize: compressedSize,
      uncompressedSize: uncompressedSize, localHeaderOffset: localHeaderOffset)
  }
}
