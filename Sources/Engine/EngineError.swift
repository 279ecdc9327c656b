import Foundation

/// A problem with a run's inputs or state that the user can fix; the description is one line
/// naming the file or key and what is wrong.
public struct EngineError: Error, CustomStringConvertible, Sendable {
  public let message: String

  public init(_ message: String) {
    self.message = message
  }

  public var description: String { message }
}
