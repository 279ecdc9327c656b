import Foundation
import Masks

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A results-file reader that goes straight from bytes to detection records.
///
/// Results files are the large input of an evaluation (500,000 detections make about 50 MB), and
/// building a generic JSON tree or going through `Decodable` costs several times the evaluation
/// itself. This scanner knows the record layout, skips unknown keys, parses numbers with C's
/// correctly rounded `strtod` (the same doubles Python's `json` produces), and reports errors by
/// record, key and line.
struct ResultsScanner {
  struct Failure: Error {
    var message: String
    var offset: Int
  }

  private let bytes: UnsafeBufferPointer<UInt8>
  private var position = 0

  init(_ bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
  }

  /// Parses the whole file as an array of detection records.
  mutating func records() throws(Failure) -> [DetectionRecord] {
    var records: [DetectionRecord] = []
    records.reserveCapacity(bytes.count / 90)
    try expect(UInt8(ascii: "["), "a results file is a JSON array of detections")
    if try peek() == UInt8(ascii: "]") {
      position += 1
    } else {
      repeat {
        records.append(try record(index: records.count))
      } while try commaOrEnd(UInt8(ascii: "]"))
    }
    skipWhitespace()
    if position < bytes.count { throw Failure(message: "unexpected text after the array", offset: position) }
    return records
  }

  /// The 1-based line of a byte offset, for messages.
  func line(of offset: Int) -> Int {
    var line = 1
    for index in 0..<min(offset, bytes.count) where bytes[index] == UInt8(ascii: "\n") { line += 1 }
    return line
  }

  private mutating func record(index: Int) throws(Failure) -> DetectionRecord {
    var imageID: Int?, categoryID: Int?, score: Double?
    var box: [Double]?
    var segmentation: COCOSegmentation?
    let start = position
    try expect(UInt8(ascii: "{"), "[\(index)]: a detection is a JSON object")
    if try peek() == UInt8(ascii: "}") {
      position += 1
    } else {
      repeat {
        let key = try string()
        try expect(UInt8(ascii: ":"), "[\(index)]: expected ':' after \"\(key)\"")
        switch key {
        case "image_id": imageID = try integer(field: "[\(index)].image_id")
        case "category_id": categoryID = try integer(field: "[\(index)].category_id")
        case "score": score = try number(field: "[\(index)].score")
        case "bbox": box = try numbers(field: "[\(index)].bbox")
        case "segmentation": segmentation = try self.segmentation(field: "[\(index)].segmentation")
        default: try skipValue()
        }
      } while try commaOrEnd(UInt8(ascii: "}"))
    }
    guard let imageID else { throw Failure(message: "[\(index)].image_id: missing", offset: start) }
    guard let categoryID else { throw Failure(message: "[\(index)].category_id: missing", offset: start) }
    guard let score else { throw Failure(message: "[\(index)].score: missing", offset: start) }
    return DetectionRecord(image_id: imageID, category_id: categoryID, bbox: box, score: score, segmentation: segmentation)
  }

  private mutating func segmentation(field: String) throws(Failure) -> COCOSegmentation {
    let first = try peek()
    if first == UInt8(ascii: "[") {
      position += 1
      var polygons: [[Double]] = []
      if try peek() == UInt8(ascii: "]") {
        position += 1
        return .polygons([])
      }
      repeat { polygons.append(try numbers(field: "\(field)[\(polygons.count)]")) } while try commaOrEnd(UInt8(ascii: "]"))
      return .polygons(polygons)
    }
    let start = position
    try expect(UInt8(ascii: "{"), "\(field): expected polygons or an RLE object")
    var size: [Double]?
    var text: String?
    var runs: [Double]?
    if try peek() == UInt8(ascii: "}") {
      position += 1
    } else {
      repeat {
        let key = try string()
        try expect(UInt8(ascii: ":"), "\(field): expected ':' after \"\(key)\"")
        switch key {
        case "size": size = try numbers(field: "\(field).size")
        case "counts":
          if try peek() == UInt8(ascii: "\"") { text = try string() } else { runs = try numbers(field: "\(field).counts") }
        default: try skipValue()
        }
      } while try commaOrEnd(UInt8(ascii: "}"))
    }
    guard let size, size.count == 2, size.allSatisfy({ $0 >= 0 && $0 == $0.rounded() && $0 < 1e9 }) else {
      throw Failure(message: "\(field).size: must be [height, width]", offset: start)
    }
    let height = Int(size[0]), width = Int(size[1])
    if let text {
      do {
        return .mask(try RLE(height: height, width: width, compressedCounts: text))
      } catch {
        throw Failure(message: "\(field).counts: \(error)", offset: start)
      }
    }
    guard let runs else { throw Failure(message: "\(field).counts: missing", offset: start) }
    guard runs.allSatisfy({ $0 >= 0 && $0 <= Double(UInt32.max) && $0 == $0.rounded() }) else {
      throw Failure(message: "\(field).counts: run lengths must be whole numbers between 0 and 2^32-1", offset: start)
    }
    return .mask(RLE(height: height, width: width, counts: runs.map { UInt32($0) }))
  }

  // MARK: tokens

  private mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x0A, 0x0D, 0x09: position += 1
      default: return
      }
    }
  }

  private mutating func peek() throws(Failure) -> UInt8 {
    skipWhitespace()
    guard position < bytes.count else { throw Failure(message: "the file ends too early", offset: position) }
    return bytes[position]
  }

  private mutating func expect(_ byte: UInt8, _ message: @autoclosure () -> String) throws(Failure) {
    guard try peek() == byte else { throw Failure(message: message(), offset: position) }
    position += 1
  }

  /// After a member: true at a comma (more follow), false at the closing bracket.
  private mutating func commaOrEnd(_ closing: UInt8) throws(Failure) -> Bool {
    let byte = try peek()
    position += 1
    if byte == UInt8(ascii: ",") { return true }
    if byte == closing { return false }
    throw Failure(message: "expected ',' or '\(Character(Unicode.Scalar(closing)))'", offset: position - 1)
  }

  private mutating func number(field: String) throws(Failure) -> Double {
    _ = try peek()
    let start = position
    while position < bytes.count && Self.isNumberByte(bytes[position]) { position += 1 }
    let length = position - start
    guard length > 0, length < 64 else { throw Failure(message: "\(field): expected a number", offset: start) }
    // strtod needs a terminated string; numbers are short, so a stack copy does.
    let value = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double? in
      for index in 0..<length { buffer[index] = CChar(bitPattern: bytes[start + index]) }
      buffer[length] = 0
      var end: UnsafeMutablePointer<CChar>?
      let value = strtod(buffer.baseAddress!, &end)
      return end == buffer.baseAddress! + length ? value : nil
    }
    guard let value else { throw Failure(message: "\(field): expected a number", offset: start) }
    return value
  }

  private static func isNumberByte(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
      || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
  }

  private mutating func integer(field: String) throws(Failure) -> Int {
    let start = position
    let value = try number(field: field)
    guard value == value.rounded(), abs(value) < 9e15 else {
      throw Failure(message: "\(field): expected a whole number", offset: start)
    }
    return Int(value)
  }

  private mutating func numbers(field: String) throws(Failure) -> [Double] {
    try expect(UInt8(ascii: "["), "\(field): expected an array of numbers")
    var values: [Double] = []
    if try peek() == UInt8(ascii: "]") {
      position += 1
      return values
    }
    repeat { values.append(try number(field: "\(field)[\(values.count)]")) } while try commaOrEnd(UInt8(ascii: "]"))
    return values
  }

  private mutating func string() throws(Failure) -> String {
    try expect(UInt8(ascii: "\""), "expected a string")
    let start = position
    var escaped = false
    while position < bytes.count {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\"") {
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
        position += 1
        return escaped ? try Self.unescape(raw, offset: start) : String(decoding: raw, as: UTF8.self)
      }
      if byte == UInt8(ascii: "\\") {
        escaped = true
        position += 1
      }
      position += 1
    }
    throw Failure(message: "a string is not closed", offset: start)
  }

  /// Rare in results files (a backslash in compressed counts), so the slow path is fine.
  private static func unescape(_ raw: UnsafeBufferPointer<UInt8>, offset: Int) throws(Failure) -> String {
    var quoted = [UInt8(ascii: "\"")]
    quoted.append(contentsOf: raw)
    quoted.append(UInt8(ascii: "\""))
    guard let value = try? JSONDecoder().decode(String.self, from: Data(quoted)) else {
      throw Failure(message: "a string has a bad escape", offset: offset)
    }
    return value
  }

  /// Nesting a skipped value may have: a results file has none, and each level is a stack frame
  /// (200,000 `[` overflowed the stack of the results reader's fuzz harness).
  static let maximumSkippedDepth = 512

  private mutating func skipValue(depth: Int = 0) throws(Failure) {
    guard depth < Self.maximumSkippedDepth else {
      throw Failure(message: "a value nested more than \(Self.maximumSkippedDepth) deep", offset: position)
    }
    let byte = try peek()
    switch byte {
    case UInt8(ascii: "\""):
      _ = try string()
    case UInt8(ascii: "["), UInt8(ascii: "{"):
      let closing = byte == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
      position += 1
      if try peek() == closing {
        position += 1
        return
      }
      repeat {
        if closing == UInt8(ascii: "}") {
          _ = try string()
          try expect(UInt8(ascii: ":"), "expected ':'")
        }
        try skipValue(depth: depth + 1)
      } while try commaOrEnd(closing)
    case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
      for word in ["true", "false", "null"] where matches(word) {
        position += word.utf8.count
        return
      }
      throw Failure(message: "unexpected text", offset: position)
    default:
      _ = try number(field: "value")
    }
  }

  private func matches(_ word: String) -> Bool {
    let utf8 = Array(word.utf8)
    guard position + utf8.count <= bytes.count else { return false }
    for (index, byte) in utf8.enumerated() where bytes[position + index] != byte { return false }
    return true
  }
}
