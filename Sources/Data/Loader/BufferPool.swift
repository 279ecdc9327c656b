import Foundation

/// Float buffers for batches, reused between batches. A padded batch at detection sizes is
/// tens of MB; allocating it afresh each time makes the kernel map and zero those pages again
/// (measured: a fifth of the loader's time went to page faults), so the consumer hands each
/// buffer back once its tensor holds a copy.
final class BufferPool: @unchecked Sendable {
  private let lock = NSLock()
  private var buffers: [[Float]] = []
  private let limit: Int

  init(limit: Int) {
    self.limit = limit
  }

  /// A buffer of at least `count` floats, with arbitrary contents.
  func take(count: Int) -> [Float] {
    var buffer = lock.withLock { buffers.popLast() } ?? []
    if buffer.count < count {
      if buffer.isEmpty {
        buffer = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
      } else {
        buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
      }
    }
    return buffer
  }

  func recycle(_ buffer: [Float]) {
    lock.withLock { if buffers.count < limit { buffers.append(buffer) } }
  }
}
