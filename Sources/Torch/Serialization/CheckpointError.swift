/// Why a checkpoint could not be read or written, naming the file and the problem.
///
/// Checkpoints come from outside the program (downloads, other frameworks, half-written files
/// after a crash), so every reader reports bad input by throwing this rather than trapping.
/// `kind` lets callers and tests tell a damaged file from an unsupported or a refused one
/// without matching on message text.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Kind: Sendable, Equatable {
    /// The file system refused: the file is missing, unreadable, or could not be written.
    case io
    /// The file ends before the structure it describes (a download or copy cut short).
    case truncated
    /// The bytes contradict the format: invalid JSON, bad offsets, wrong sizes, duplicates.
    case malformed
    /// The file is well formed but uses something these readers do not handle, such as a
    /// compressed zip entry, the legacy torch.save format or an unknown dtype.
    case unsupported
    /// A pickle asked for something the restricted unpickler never does, such as calling a
    /// global outside its allow-list: loading must never run code from the file.
    case forbidden
  }

  public let kind: Kind
  /// The file (or, for in-memory data, the name the caller gave it).
  public let source: String
  public let message: String

  public init(_ kind: Kind, source: String, _ message: String) {
    self.kind = kind
    self.source = source
    self.message = message
  }

  public var description: String { "\(source): \(message)" }
}
