import Foundation

/// Bad input to an evaluation: a malformed or inconsistent file, or detections that do not fit
/// the ground truth. The description is one line naming the file and the record.
public struct EvaluationError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The file the problem is in, when it came from one.
  public var file: String?
  public var message: String

  public init(file: String? = nil, _ message: String) {
    self.file = file
    self.message = message
  }

  public var description: String {
    if let file { return "\(file): \(message)" }
    return message
  }

  /// The same problem, attributed to a file if it was not yet.
  func located(in name: String?) -> EvaluationError {
    var copy = self
    if copy.file == nil { copy.file = name }
    return copy
  }

  /// Turns JSONDecoder's error into a line that a user can act on: the path of the record
  /// (`annotations[12].bbox[3]`) and what was wrong with it.
  static func decoding(_ error: any Error, file: String?) -> EvaluationError {
    guard let error = error as? DecodingError else {
      return EvaluationError(file: file, "cannot read: \(error.localizedDescription)")
    }
    func path(_ keys: [any CodingKey]) -> String {
      var text = ""
      for key in keys {
        if let index = key.intValue {
          text += "[\(index)]"
        } else {
          text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
        }
      }
      return text.isEmpty ? "top level" : text
    }
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
      return EvaluationError(file: file, "\(path(context.codingPath)): \(context.debugDescription)")
    case .keyNotFound(let key, let context):
      return EvaluationError(file: file, "\(path(context.codingPath + [key])): missing")
    case .dataCorrupted(let context):
      let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
      let detail = [context.debugDescription, underlying].compactMap { $0 }.joined(separator: ": ")
      return EvaluationError(file: file, "\(path(context.codingPath)): \(detail)")
    @unknown default:
      return EvaluationError(file: file, "\(error)")
    }
  }
}

/// The bytes of an input file, or an `EvaluationError` naming it and why it cannot be read.
func readEvaluationFile(_ url: URL) throws(EvaluationError) -> Data {
  guard FileManager.default.fileExists(atPath: url.path) else {
    throw EvaluationError(file: url.path, "no such file")
  }
  do {
    return try Data(contentsOf: url)
  } catch {
    throw EvaluationError(file: url.path, "cannot read the file (\(error.localizedDescription))")
  }
}
