/// Why an image could not be read or written. The message names the problem as the codec saw it;
/// readers add the file name.
public struct ImageCodecError: Error, Equatable, CustomStringConvertible, Sendable {
  public enum Kind: Sendable, Equatable {
    /// Neither a JPEG nor a PNG signature.
    case unknownFormat
    /// Truncated, corrupt or unsupported content.
    case corrupt
    /// A request the codec cannot honour (a channel count, a quality).
    case invalidArgument
    case outOfMemory
    /// More pixels than `ImageCodec.maximumPixelCount`: refused before any memory is reserved.
    case tooLarge
  }

  public let kind: Kind
  public let message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}
