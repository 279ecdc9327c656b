import Data
import Foundation
import Testing

/// `simpledet train` writes a TensorBoard event file beside metrics.jsonl. It is read back here
/// with a reader written from the TFRecord and `tensorflow.Event` formats alone (not the
/// writer's code): every record's length and payload CRC-32C (bitwise, unmasked then masked)
/// checks, every number of metrics.jsonl is a scalar at its iteration, and each evaluation
/// leaves PNG pictures.
@Suite(.serialized) struct TensorBoardTests {
  struct Event {
    var step = 0
    var wallTime = 0.0
    var fileVersion: String?
    var scalars: [String: Float] = [:]
    var images: [String: (height: Int, width: Int, png: Data)] = [:]
    var sessionStart = false
  }

  static func crc32c(_ bytes: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
    }
    let value = ~crc
    return ((value >> 15) | (value << 17)) &+ 0xA282_EAD8
  }

  static func littleEndian<T: FixedWidthInteger>(_ bytes: Data, _ offset: Int, as: T.Type) -> T {
    var value: T = 0
    for i in 0..<MemoryLayout<T>.size { value |= T(bytes[bytes.startIndex + offset + i]) << (8 * i) }
    return value
  }

  /// Protocol-buffer fields of `bytes`: (field number, wire type, varint or fixed value, bytes).
  static func fields(_ bytes: Data) throws -> [(Int, Int, UInt64, Data)] {
    var out: [(Int, Int, UInt64, Data)] = []
    var i = bytes.startIndex
    func varint() throws -> UInt64 {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while true {
        guard i < bytes.endIndex else { throw CocoaError(.fileReadCorruptFile) }
        let b = bytes[i]
        i += 1
        value |= UInt64(b & 0x7F) << shift
        if b & 0x80 == 0 { return value }
        shift += 7
      }
    }
    while i < bytes.endIndex {
      let key = try varint()
      let (number, wire) = (Int(key >> 3), Int(key & 7))
      switch wire {
      case 0: out.append((number, wire, try varint(), Data()))
      case 1:
        out.append((number, wire, littleEndian(bytes, i - bytes.startIndex, as: UInt64.self), Data()))
        i += 8
      case 5:
        out.append((number, wire, UInt64(littleEndian(bytes, i - bytes.startIndex, as: UInt32.self)), Data()))
        i += 4
      case 2:
        let n = Int(try varint())
        out.append((number, wire, 0, Data(bytes[i..<(i + n)])))
        i += n
      default: throw CocoaError(.fileReadCorruptFile)
      }
    }
    return out
  }

  static func events(in url: URL) throws -> [Event] {
    let data = try Data(contentsOf: url)
    var events: [Event] = []
    var offset = 0
    while offset < data.count {
      let lengthBytes = data.subdata(in: offset..<(offset + 8))
      let length = Int(littleEndian(data, offset, as: UInt64.self))
      #expect(littleEndian(data, offset + 8, as: UInt32.self) == crc32c(lengthBytes), "length CRC at \(offset)")
      let payload = data.subdata(in: (offset + 12)..<(offset + 12 + length))
      #expect(littleEndian(data, offset + 12 + length, as: UInt32.self) == crc32c(payload), "payload CRC at \(offset)")
      offset += 16 + length
      var event = Event()
      for (number, _, value, bytes) in try fields(payload) {
        switch number {
        case 1: event.wallTime = Double(bitPattern: value)
        case 2: event.step = Int(value)
        case 3: event.fileVersion = String(decoding: bytes, as: UTF8.self)
        case 5:
          for (_, _, _, valueBytes) in try fields(bytes) {
            var tag = ""
            var scalar: Float?
            var image: (Int, Int, Data)?
            for (n, _, v, b) in try fields(valueBytes) {
              if n == 1 { tag = String(decoding: b, as: UTF8.self) }
              if n == 2 { scalar = Float(bitPattern: UInt32(v)) }
              if n == 4 {
                var (h, w, png) = (0, 0, Data())
                for (m, _, u, c) in try fields(b) {
                  if m == 1 { h = Int(u) }
                  if m == 2 { w = Int(u) }
                  if m == 4 { png = c }
                }
                image = (h, w, png)
              }
            }
            if let scalar { event.scalars[tag] = scalar }
            if let image { event.images[tag] = (image.0, image.1, image.2) }
          }
        case 6: event.sessionStart = try fields(bytes).contains { $0.0 == 1 && $0.2 == 1 }
        default: break
        }
      }
      events.append(event)
    }
    #expect(offset == data.count, "trailing bytes")
    return events
  }

  static func eventFiles(in folder: URL) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("events.out.tfevents.") }.sorted()
      .map { folder.appendingPathComponent($0) }
  }

  @Test func trainingWritesScalarsEqualToTheMetricsAndPictures() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 6, checkpointPeriod: 3))
    let run = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run", "--set", "runtime.eval_period=3", "--set", "runtime.log_period=2"],
      in: folder.url)
    try #require(run.status == 0, "\(run.errors)")
    let files = try Self.eventFiles(in: folder.path("run"))
    try #require(files.count == 1, "\(files)")
    let events = try Self.events(in: files[0])
    #expect(events.first?.fileVersion == "brain.Event:2")
    #expect(events.allSatisfy { abs($0.wallTime - Date().timeIntervalSince1970) < 3600 })

    // Every number of metrics.jsonl, at its iteration, under its key (nested keys joined by /).
    let records = try String(contentsOf: folder.path("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    var expected: [String: Float] = [:]
    func collect(_ record: [String: Any], step: Int, prefix: String) {
      for (key, value) in record where key != "iteration" {
        if let nested = value as? [String: Any] { collect(nested, step: step, prefix: prefix + key + "/") }
        if let number = value as? NSNumber { expected["\(step) \(prefix)\(key)"] = number.floatValue }
      }
    }
    for record in records { collect(record, step: record["iteration"] as! Int, prefix: "") }
    var found: [String: Float] = [:]
    for event in events { for (tag, value) in event.scalars { found["\(event.step) \(tag)"] = value } }
    #expect(expected.count > 20 && expected["6 eval/bbox/AP"] != nil && expected["4 loss_classifier"] != nil, "\(expected.keys.sorted())")
    for (key, value) in expected {
      // Float32 of the same double; the JSON text's shortest form can round to the other side.
      let same = found[key].map { abs($0 - value) <= 1e-6 * max(1, abs(value)) || ($0.isNaN && value.isNaN) } ?? false
      #expect(same, "\(key): metrics \(value), events \(String(describing: found[key]))")
    }
    #expect(Set(found.keys) == Set(expected.keys))

    // Pictures of the four test images at each evaluation (iterations 3 and 6).
    let pictures = events.flatMap { e in e.images.map { (e.step, $0.key, $0.value) } }
    #expect(Set(pictures.map { "\($0.0) \($0.1)" }) == Set([3, 6].flatMap { s in (0..<4).map { "\(s) predictions/\($0)" } }))
    for (_, tag, image) in pictures {
      let decoded = try ImageCodec.decode(image.png, channels: 3)
      #expect(decoded.height == image.height && decoded.width == image.width && image.height > 0, "\(tag)")
    }
  }

  @Test func resumedRunsStartASessionAndOffCanTurnItOff() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 4, checkpointPeriod: 2))
    let first = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run", "--set", "solver.max_iter=2"], in: folder.url)
    try #require(first.status == 0, "\(first.errors)")
    let resumed = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run", "--resume"], in: folder.url)
    try #require(resumed.status == 0, "\(resumed.errors)")
    let files = try Self.eventFiles(in: folder.path("run"))
    #expect(files.count == 2)
    // TensorBoard drops the first run's events from step 3 on, as metrics.jsonl was cut after
    // the checkpoint at iteration 2.
    let starts = try files.flatMap { try Self.events(in: $0) }.filter(\.sessionStart)
    #expect(starts.map(\.step) == [3])
    let off = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "off", "--set", "runtime.tensorboard=false"], in: folder.url)
    try #require(off.status == 0, "\(off.errors)")
    #expect(try Self.eventFiles(in: folder.path("off")).isEmpty)
  }
}
