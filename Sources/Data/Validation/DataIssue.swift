import Foundation

/// One problem found in a dataset, located by file and record so it can be fixed at the source.
public struct DataIssue: Sendable, Equatable, CustomStringConvertible {
  public enum Kind: String, Sendable, CaseIterable, Codable {
    case missingImage = "missing image"
    case unreadableImage = "unreadable image"
    case corruptImage = "corrupt image"
    case sizeMismatch = "image size differs from annotation"
    case degenerateBox = "box with non-positive width or height"
    case boxOutsideImage = "box outside the image"
    case unknownCategory = "unknown category"
    case duplicateImageId = "duplicate image id"
    case duplicateAnnotationId = "duplicate annotation id"
    case duplicateCategoryId = "duplicate category id"
    case unknownImage = "annotation for an unknown image"
    case invalidRecord = "invalid record"
  }

  public let kind: Kind
  /// The file the problem is in (the annotation file, or the image file for image problems).
  public let file: String
  /// Which record: `image 42 (000042.jpg)`, `annotation 1234`, `object 3`.
  public let record: String
  public let detail: String

  public init(_ kind: Kind, file: String, record: String, detail: String) {
    self.kind = kind
    self.file = file
    self.record = record
    self.detail = detail
  }

  /// Image problems make the whole record unusable; annotation problems only the instance.
  public var dropsImage: Bool {
    switch kind {
    case .missingImage, .unreadableImage, .corruptImage, .sizeMismatch, .duplicateImageId: true
    default: false
    }
  }

  public var description: String { "\(file): \(record): \(kind.rawValue): \(detail)" }
}

/// What to do with bad records: drop them with a warning, or stop before training starts.
public enum BadDataPolicy: String, Sendable, Codable, CaseIterable {
  case skip
  case fail
}

/// Bad records found under the `fail` policy.
public struct DataValidationError: Error, CustomStringConvertible, Sendable {
  public let issues: [DataIssue]

  public init(issues: [DataIssue]) {
    self.issues = issues
  }

  public var description: String {
    let shown = issues.prefix(20).map { "  \($0)" }.joined(separator: "\n")
    let more = issues.count > 20 ? "\n  ... and \(issues.count - 20) more" : ""
    return "\(issues.count) problem\(issues.count == 1 ? "" : "s") in the dataset:\n\(shown)\(more)"
  }
}

/// An annotation file that cannot be parsed at all: malformed JSON or XML, a missing required
/// field, a value of the wrong type.
public struct DatasetFormatError: Error, CustomStringConvertible, Sendable, Equatable {
  public let file: String
  /// Where in the file, e.g. `annotations[3].bbox` or `line 12`; empty when unknown.
  public let location: String
  public let message: String

  public init(file: String, location: String = "", message: String) {
    self.file = file
    self.location = location
    self.message = message
  }

  public var description: String {
    location.isEmpty ? "\(file): \(message)" : "\(file): \(location): \(message)"
  }
}

/// The bytes of an annotation file, or a `DatasetFormatError` naming it and why it is unreadable.
func readAnnotationFile(_ url: URL) throws -> Data {
  do {
    return try Data(contentsOf: url)
  } catch {
    throw DatasetFormatError(file: url.path, message: "cannot read the annotation file (\(error.localizedDescription))")
  }
}
