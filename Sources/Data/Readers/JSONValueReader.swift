import Foundation

/// Typed access to a parsed JSON value that remembers where it is in the file, so that a wrong or
/// missing field is reported as `file: annotations[3].bbox: expected an array of 4 numbers`.
struct JSONNode {
  let value: Any
  let path: String
  let file: String

  /// Parses a whole file. A syntax error is reported with the parser's own position message.
  static func parse(_ data: Data, file: String) throws -> JSONNode {
    do {
      let value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
      return JSONNode(value: value, path: "", file: file)
    } catch {
      let nsError = error as NSError
      let detail = (nsError.userInfo[NSDebugDescriptionErrorKey] as? String) ?? nsError.localizedDescription
      throw DatasetFormatError(file: file, message: "malformed JSON: \(detail)")
    }
  }

  func failure(_ message: String) -> DatasetFormatError {
    DatasetFormatError(file: file, location: path.isEmpty ? "top level" : path, message: message)
  }

  private func child(_ value: Any, _ key: String) -> JSONNode {
    JSONNode(value: value, path: path.isEmpty ? key : "\(path).\(key)", file: file)
  }

  var isNull: Bool { value is NSNull }

  func object() throws -> [String: Any] {
    guard let object = value as? [String: Any] else { throw failure("expected an object") }
    return object
  }

  /// A required member.
  func member(_ key: String) throws -> JSONNode {
    let object = try object()
    guard let value = object[key], !(value is NSNull) else { throw failure("missing field '\(key)'") }
    return child(value, key)
  }

  /// An optional member (absent and `null` alike give nil).
  func optionalMember(_ key: String) throws -> JSONNode? {
    let object = try object()
    guard let value = object[key], !(value is NSNull) else { return nil }
    return child(value, key)
  }

  func array() throws -> [JSONNode] {
    guard let array = value as? [Any] else { throw failure("expected an array") }
    return array.enumerated().map { JSONNode(value: $0.element, path: "\(path)[\($0.offset)]", file: file) }
  }

  func string() throws -> String {
    guard let string = value as? String else { throw failure("expected a string") }
    return string
  }

  func double() throws -> Double {
    // JSONSerialization gives NSNumber for numbers and booleans alike; booleans are not numbers here.
    guard let number = value as? NSNumber, !Self.isBoolean(number) else { throw failure("expected a number") }
    let double = number.doubleValue
    guard double.isFinite else { throw failure("expected a finite number") }
    return double
  }

  func int() throws -> Int {
    let double = try double()
    guard double == double.rounded(), abs(double) < 9.0e15 else { throw failure("expected an integer, found \(double)") }
    return Int(double)
  }

  /// A boolean, also accepting 0 and 1 (COCO's `iscrowd` is an integer).
  func bool() throws -> Bool {
    if let number = value as? NSNumber {
      if Self.isBoolean(number) { return number.boolValue }
      let double = number.doubleValue
      if double == 0 || double == 1 { return double == 1 }
    }
    throw failure("expected true/false or 0/1")
  }

  func doubles(count: Int? = nil) throws -> [Double] {
    let values = try array().map { try $0.double() }
    if let count, values.count != count { throw failure("expected \(count) numbers, found \(values.count)") }
    return values
  }

  /// Whether a parsed number came from `true` or `false`.
  static func isBoolean(_ number: NSNumber) -> Bool {
    #if canImport(Darwin)
      return CFGetTypeID(number) == CFBooleanGetTypeID()
    #else
      // swift-corelibs-foundation parses `true`/`false` into its `__NSCFBoolean` subclass.
      return String(describing: type(of: number)).contains("Boolean")
    #endif
  }
}
