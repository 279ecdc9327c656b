/// A config that cannot be read. Each message names the file (or the `--set` argument) and the
/// key path, on one line, so the command line can print it as it is.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
  case missingFile(path: String, includedFrom: String?)
  case unreadableFile(path: String, reason: String)
  case invalidYAML(String)
  case inheritanceCycle([String])
  case invalidBase(file: String)
  case unknownKey(path: String, source: String)
  case invalidValue(path: String, source: String, reason: String)
  case invalidOverride(String)

  public var description: String {
    switch self {
    case .missingFile(let path, nil): "\(path): no such config file"
    case .missingFile(let path, let from?): "\(path): no such config file (a _base_ of \(from))"
    case .unreadableFile(let path, let reason): "\(path): \(reason)"
    case .invalidYAML(let reason): reason
    case .inheritanceCycle(let chain): "_base_ cycle: \(chain.joined(separator: " -> "))"
    case .invalidBase(let file): "\(file): _base_ must be a file name or a list of file names"
    case .unknownKey(let path, let source): "\(source): unknown key '\(path)'"
    case .invalidValue(let path, let source, let reason): "\(source): \(path): \(reason)"
    case .invalidOverride(let text): "--set \(text): expected key.path=value"
    }
  }
}
