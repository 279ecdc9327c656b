import CTorch
import Foundation

/// A failure reported by libtorch, carrying its message and the SimpleDet operation that asked.
public struct TorchError: Error, CustomStringConvertible, Equatable {
  /// The SimpleDet operation that failed, such as `conv2d` or `reshaped`.
  public let operation: String
  /// libtorch's own explanation.
  public let message: String

  public init(operation: String, message: String) {
    self.operation = operation
    self.message = message
  }

  public var description: String { "\(operation): \(message)" }
}

/// Runs `body` and throws the first libtorch failure met inside it instead of trapping.
///
/// Tensor operations read like arithmetic and do not throw: outside this scope a failing
/// operation (a shape or dtype mismatch, say) stops the program with libtorch's message, the way
/// an out-of-range array index does. Inside it, the failing operation records its error and
/// returns an empty placeholder tensor; every operation that uses the placeholder fails quietly
/// too, and the recorded error is thrown when `body` returns. Use it where inputs come from a
/// user (shapes from a config, tensors from a file).
///
///     let y = try withTorchErrors { x.reshaped([3, -1]).matmul(w) }
public func withTorchErrors<R>(_ body: () throws -> R) throws -> R {
  let capture = ErrorCapture.push()
  defer { ErrorCapture.pop(capture) }
  let result = try body()
  if let error = capture.first { throw error }
  return result
}

/// The per-thread stack of active `withTorchErrors` scopes. Only the failure path consults it,
/// so successful operations pay nothing for it.
final class ErrorCapture {
  var first: TorchError?

  private static let key = "simpledet.torch.errorCapture"

  static func push() -> ErrorCapture {
    let capture = ErrorCapture()
    let dictionary = Thread.current.threadDictionary
    var stack = dictionary[key] as? [ErrorCapture] ?? []
    stack.append(capture)
    dictionary[key] = stack
    return capture
  }

  static func pop(_ capture: ErrorCapture) {
    let dictionary = Thread.current.threadDictionary
    var stack = dictionary[key] as? [ErrorCapture] ?? []
    if let index = stack.lastIndex(where: { $0 === capture }) { stack.remove(at: index) }
    dictionary[key] = stack.isEmpty ? nil : stack
  }

  static var current: ErrorCapture? {
    (Thread.current.threadDictionary[key] as? [ErrorCapture])?.last
  }
}

/// Reports a failed libtorch call: recorded when a `withTorchErrors` scope is active, fatal otherwise.
func reportFailure(_ operation: String) {
  reportFailure(operation, message: String(cString: ct_last_error()))
}

/// Reports a failure found on the Swift side, by the same rules as libtorch's.
func reportFailure(_ operation: String, message: String) {
  let error = TorchError(operation: operation, message: message)
  if let capture = ErrorCapture.current {
    if capture.first == nil { capture.first = error }
    return
  }
  fatalError("Torch.\(error)")
}

/// Calls a C function that returns a status; reports a failure by the rules of `reportFailure`.
/// Returns whether the call succeeded.
@discardableResult
@inline(__always)
func check(_ operation: @autoclosure () -> String, _ status: Int32) -> Bool {
  if status == 0 { return true }
  reportFailure(operation())
  return false
}

/// Calls a C function that must succeed whatever the scope, throwing libtorch's message if not.
@inline(__always)
func checkThrowing(_ operation: @autoclosure () -> String, _ status: Int32) throws {
  if status != 0 {
    throw TorchError(operation: operation(), message: String(cString: ct_last_error()))
  }
}
