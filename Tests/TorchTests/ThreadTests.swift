import Foundation
import Testing

@testable import Torch

/// The intra-op thread count is process state: serialized, and always restored.
@Suite(.serialized) struct ThreadTests {
  @Test func threadCountCanBeReadAndSet() {
    let original = Torch.threadCount
    #expect(original >= 1)
    defer { Torch.threadCount = original }
    Torch.threadCount = 1
    #expect(Torch.threadCount == 1)
    // Work still runs (and agrees) with one thread.
    let x = Tensor.arange(10000, dtype: .float64)
    #expect(x.sum().doubleValue() == 49_995_000)
    Torch.threadCount = 2
    #expect(Torch.threadCount == 2)
    #expect(x.sum().doubleValue() == 49_995_000)
  }

  /// libtorch keeps the count per thread but seeds each new thread from the last value set, so a
  /// count set before the training thread starts is the one it uses.
  @Test func newThreadsStartWithTheCountSetLast() {
    let original = Torch.threadCount
    defer { Torch.threadCount = original }
    Torch.threadCount = 1
    final class Box: @unchecked Sendable { var count = 0 }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      box.count = Torch.threadCount
      done.signal()
    }
    thread.start()
    done.wait()
    #expect(box.count == 1)
  }

  @Test func libraryVersionIsTheExpectedOne() throws {
    #expect(Torch.version.hasPrefix(Torch.expectedVersion))
    try Torch.checkVersion()
  }
}
