import Foundation

/// Wall-clock totals of the detection operations a benchmark wants to attribute time to (NMS,
/// RoIAlign, anchor matching). Off by default; when off, timing a region costs one flag check.
public final class OperationTimer: @unchecked Sendable {
  public static let shared = OperationTimer()

  private let lock = NSLock()
  private var enabled = false
  private var totals: [String: Double] = [:]

  /// Starts collecting (clearing earlier totals).
  public func start() {
    lock.withLock {
      totals = [:]
      enabled = true
    }
  }

  /// Stops collecting and returns seconds per operation name.
  @discardableResult
  public func stop() -> [String: Double] {
    lock.withLock {
      enabled = false
      return totals
    }
  }

  /// Runs `body`, adding its duration to `name` when collecting.
  @inline(__always)
  public func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
    guard lock.withLock({ enabled }) else { return try body() }
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    lock.withLock { totals[name, default: 0] += seconds }
    return result
  }
}
