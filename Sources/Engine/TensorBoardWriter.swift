import Foundation

/// A TensorBoard event file (`events.out.tfevents.<seconds>.<host>.<pid>` in the run folder),
/// written natively: TFRecord framing (little-endian 64-bit length, masked CRC-32C of the length,
/// the record, masked CRC-32C of the record) around `tensorflow.Event` protocol buffers, of which
/// only the fields TensorBoard reads for scalars and images are encoded: `wall_time` (1),
/// `step` (2), `file_version` (3), `summary` (5: `Summary.Value` with `tag`, `simple_value` or
/// `image`) and `session_log` (6).
public final class TensorBoardWriter {
  public let url: URL
  private let handle: FileHandle

  /// Creates a new event file in `directory`. `resumedAt`: the first step a resumed run logs
  /// again; a `SessionLog.START` event at that step tells TensorBoard to drop what the
  /// interrupted run's files hold from that step on (as `metrics.jsonl` drops its records after
  /// the checkpoint).
  public init(directory: URL, resumedAt: Int? = nil) throws {
    let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
    let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host.isEmpty ? "localhost" : host).\(getpid())"
    url = directory.appendingPathComponent(name)
    guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = try? FileHandle(forWritingTo: url) else {
      throw EngineError("cannot write \(url.path)")
    }
    self.handle = handle
    try write(Self.event(step: 0, [(3, .bytes(Data("brain.Event:2".utf8)))]))
    if let resumedAt {
      // SessionLog { status: START (1) }.
      try write(Self.event(step: resumedAt, [(6, .message([(1, .varint(1))]))]))
    }
  }

  deinit { try? handle.close() }

  /// One scalar per tag at `step`, in one event.
  public func addScalars(_ values: [(tag: String, value: Double)], step: Int) throws {
    guard !values.isEmpty else { return }
    let summary = values.map { tag, value -> (Int, ProtoField) in
      (1, .message([(1, .bytes(Data(tag.utf8))), (2, .float32(Float(value)))]))
    }
    try write(Self.event(step: step, [(5, .message(summary))]))
  }

  /// A PNG picture under `tag` at `step`.
  public func addImage(tag: String, png: Data, height: Int, width: Int, step: Int) throws {
    let image: [(Int, ProtoField)] = [(1, .varint(UInt64(height))), (2, .varint(UInt64(width))), (3, .varint(3)), (4, .bytes(png))]
    try write(Self.event(step: step, [(5, .message([(1, .message([(1, .bytes(Data(tag.utf8))), (4, .message(image))]))]))]))
  }

  private static func event(step: Int, _ fields: [(Int, ProtoField)]) -> Data {
    ProtoField.encode([(1, .float64(Date().timeIntervalSince1970)), (2, .varint(UInt64(bitPattern: Int64(step))))] + fields)
  }

  private func write(_ record: Data) throws {
    var length = UInt64(record.count).littleEndian
    let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
    var framed = lengthBytes
    framed.append(littleEndian: CRC32C.masked(lengthBytes))
    framed.append(record)
    framed.append(littleEndian: CRC32C.masked(record))
    do {
      try handle.write(contentsOf: framed)
    } catch {
      throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}

/// The protocol-buffer wire types an event needs.
enum ProtoField {
  case varint(UInt64)
  case float64(Double)
  case float32(Float)
  case bytes(Data)
  case message([(Int, ProtoField)])

  static func encode(_ fields: [(Int, ProtoField)]) -> Data {
    var out = Data()
    for (number, field) in fields {
      switch field {
      case .varint(let v):
        out.appendVarint(UInt64(number << 3))
        out.appendVarint(v)
      case .float64(let v):
        out.appendVarint(UInt64(number << 3 | 1))
        out.append(littleEndian: v.bitPattern)
      case .float32(let v):
        out.appendVarint(UInt64(number << 3 | 5))
        out.append(littleEndian: v.bitPattern)
      case .bytes(let data):
        out.appendVarint(UInt64(number << 3 | 2))
        out.appendVarint(UInt64(data.count))
        out.append(data)
      case .message(let inner):
        let data = encode(inner)
        out.appendVarint(UInt64(number << 3 | 2))
        out.appendVarint(UInt64(data.count))
        out.append(data)
      }
    }
    return out
  }
}

/// CRC-32C (Castagnoli), as TFRecord checks its framing, with TFRecord's mask.
enum CRC32C {
  private static let table: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func checksum(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }

  static func masked(_ data: Data) -> UInt32 {
    let crc = checksum(data)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }
}

extension Data {
  fileprivate mutating func appendVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      append(UInt8(v & 0x7F | 0x80))
      v >>= 7
    }
    append(UInt8(v))
  }

  fileprivate mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
    var v = value.littleEndian
    Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
  }
}
