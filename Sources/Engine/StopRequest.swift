import Dispatch
import Foundation

/// Records SIGINT or SIGTERM instead of dying, so training can finish its step and checkpoint.
/// A second signal of the same kind while the first is being handled ends the process at once.
public final class StopRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var received: Int32?
  private var sources: [DispatchSourceSignal] = []

  public init() {}

  /// The signal received, if any.
  public var signal: Int32? { lock.withLock { received } }

  public func request(_ signal: Int32) {
    lock.withLock { received = signal }
  }

  /// Starts catching SIGINT and SIGTERM (until `stopListening`).
  public func listen() {
    for number in [SIGINT, SIGTERM] {
      Foundation.signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [weak self] in
        guard let self else { return }
        if self.signal == number {
          // Asked twice: the user does not want to wait for the checkpoint.
          Foundation.signal(number, SIG_DFL)
          kill(getpid(), number)
        }
        self.request(number)
        FileHandle.standardError.write(Data("\nstopping after this iteration (writing a checkpoint)...\n".utf8))
      }
      source.resume()
      sources.append(source)
    }
  }

  public func stopListening() {
    for source in sources { source.cancel() }
    sources.removeAll()
    Foundation.signal(SIGINT, SIG_DFL)
    Foundation.signal(SIGTERM, SIG_DFL)
  }
}
