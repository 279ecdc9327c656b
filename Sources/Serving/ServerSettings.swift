import Foundation

/// How `simpledet serve` listens, batches and bounds its work.
public struct ServerSettings: Sendable {
  /// The address to bind: loopback unless the user asks otherwise.
  public var host = "127.0.0.1"
  /// 0 lets the system choose a free port (the server prints the one it got).
  public var port = 8080
  /// The most images one forward pass takes.
  public var maxBatchSize = 8
  /// How long the first request of a batch waits for others to join it.
  public var maxBatchWait: Duration = .milliseconds(5)
  /// Requests waiting for the model beyond this many are answered 503 at once.
  public var queueCapacity = 64
  /// The largest request body read (a larger one is answered 413 without being read).
  public var maxBodyBytes = 20 << 20
  /// The most pixels an image may declare in its header: decompression bombs are refused before
  /// decoding.
  public var maxImagePixels = 40_000_000
  /// A request not answered within this (waiting and detection together) gets 503.
  public var requestTimeout: Duration = .seconds(30)
  /// When set, every route but `/healthz` wants `Authorization: Bearer <token>`.
  public var token: String?

  public init() {}

  /// Reads the bearer token from `path`: its content without surrounding white space, which must
  /// not be empty.
  public static func token(contentsOf path: String) throws -> String {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw ServingError("\(path): cannot read the token file (\(error.localizedDescription))")
    }
    let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !token.isEmpty else { throw ServingError("\(path): the token file is empty") }
    guard !token.contains(where: { $0.isWhitespace || $0.isNewline }) else {
      throw ServingError("\(path): the token must be one word (no spaces or line breaks inside)")
    }
    return token
  }
}

/// A problem starting the server (settings, files, binding), reported in one line.
public struct ServingError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
