import Data
import Engine
import Foundation

/// Why the batcher did not run an image.
public enum BatcherRefusal: Error, Equatable, Sendable {
  /// As many images as the queue holds are already waiting.
  case queueFull
  /// The request's time ran out before its detections were ready.
  case timedOut
  /// The server is shutting down and takes no new work.
  case shuttingDown
}

/// Groups images that arrive close together into one forward pass, as inference servers do.
///
/// The model runs on one thread of its own, one batch at a time, so that libtorch's intra-op
/// threads are never oversubscribed and Swift's cooperative threads never block on a forward
/// pass. A batch starts when `maxBatchSize` images wait, when the oldest has waited `maxWait`,
/// or at once when no other image is on its way (`announceArrival()` counts those still being
/// received and decoded): a lone client never pays the wait.
public final class DetectionBatcher<Output: Sendable>: @unchecked Sendable {
  public typealias Run = ([Image]) -> [Output]

  private final class Job: @unchecked Sendable {
    let image: Image
    /// Height × width the image takes in a batch (before others' padding).
    let footprint: (height: Int, width: Int)
    let arrival = ContinuousClock.now
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Output, any Error>?
    private var early: Result<Output, any Error>?
    private var answered = false

    init(image: Image, footprint: (height: Int, width: Int)) {
      self.image = image
      self.footprint = footprint
    }

    var isAnswered: Bool { lock.withLock { answered } }

    func attach(_ continuation: CheckedContinuation<Output, any Error>) {
      let result: Result<Output, any Error>? = lock.withLock {
        if let early { return early }
        self.continuation = continuation
        return nil
      }
      if let result { continuation.resume(with: result) }
    }

    /// The first answer wins; later ones (a timeout racing the batch) are dropped.
    func answer(_ result: Result<Output, any Error>) {
      let continuation: CheckedContinuation<Output, any Error>? = lock.withLock {
        guard !answered else { return nil }
        answered = true
        if let continuation = self.continuation {
          self.continuation = nil
          return continuation
        }
        early = result
        return nil
      }
      continuation?.resume(with: result)
    }
  }

  public let maxBatchSize: Int
  public let maxWait: Duration
  public let capacity: Int
  private let run: Run
  private let footprint: (@Sendable (Image) -> (height: Int, width: Int))?
  private let metrics: ServerMetrics?
  private let condition = NSCondition()
  private var queue: [Job] = []
  /// Images announced and not yet queued or withdrawn.
  private var arriving = 0
  private var accepting = true
  private var started = false
  private var finished: [CheckedContinuation<Void, Never>] = []
  private var threadDone = false

  /// - Parameters:
  ///   - footprint: the size an image takes in a batch, which is padded to its largest member
  ///     (a detector's resized and padded test size); nil batches in arrival order. With it, a
  ///     batch takes the oldest image and then, in arrival order, the images that keep the
  ///     padding within `maxPaddingWaste` of the pixels themselves, so that portrait and
  ///     landscape photos do not double each other's cost.
  ///   - run: the model over a batch, one output per image in order; called on the batcher's
  ///     thread only, so it may hold state that is not thread-safe.
  public init(
    maxBatchSize: Int, maxWait: Duration, capacity: Int, metrics: ServerMetrics? = nil,
    footprint: (@Sendable (Image) -> (height: Int, width: Int))? = nil, maxPaddingWaste: Double = 0.25, run: @escaping Run
  ) {
    precondition(maxBatchSize >= 1 && capacity >= 1, "DetectionBatcher: batch size and capacity must be positive")
    self.maxBatchSize = maxBatchSize
    self.maxWait = maxWait
    self.capacity = capacity
    self.metrics = metrics
    self.footprint = footprint
    self.maxPaddingWaste = maxPaddingWaste
    self.run = run
  }

  public let maxPaddingWaste: Double

  /// Images waiting for the model.
  public var queueDepth: Int { condition.withLock { queue.count } }

  /// Starts the model's thread.
  public func start() {
    condition.withLock {
      precondition(!started, "DetectionBatcher.start() called twice")
      started = true
    }
    let thread = Thread { [self] in loop() }
    thread.name = "simpledet-model"
    // Deep networks recurse in libtorch's autograd-free forward; give the thread a main-sized stack.
    thread.stackSize = 16 << 20
    thread.start()
  }

  /// Says that an image is on its way (its request is being read and decoded), so that a
  /// forming batch waits for it. Each announcement ends with `detect(_:timeout:announced:)` or
  /// `withdrawArrival()`.
  public func announceArrival() {
    condition.withLock { arriving += 1 }
  }

  /// The announced image will not come (its request failed).
  public func withdrawArrival() {
    condition.withLock {
      arriving = Swift.max(0, arriving - 1)
      condition.signal()
    }
  }

  /// The model's output for `image`, once a batch holding it has run; throws a `BatcherRefusal`
  /// when the queue is full, the server is stopping, or `timeout` passes first. `announced`:
  /// the image was announced with `announceArrival()`.
  public func detect(_ image: Image, timeout: Duration, announced: Bool = false) async throws -> Output {
    let job = Job(image: image, footprint: footprint?(image) ?? (image.height, image.width))
    let timer = Task {
      try await Task.sleep(for: timeout)
      job.answer(.failure(BatcherRefusal.timedOut))
    }
    defer { timer.cancel() }
    return try await withCheckedThrowingContinuation { continuation in
      job.attach(continuation)
      if let refusal = enqueue(job, announced: announced) { job.answer(.failure(refusal)) }
    }
  }

  private func enqueue(_ job: Job, announced: Bool) -> BatcherRefusal? {
    condition.withLock {
      if announced { arriving = Swift.max(0, arriving - 1) }
      guard accepting else { return .shuttingDown }
      guard queue.count < capacity else { return .queueFull }
      queue.append(job)
      metrics?.setQueueDepth(queue.count)
      condition.signal()
      return nil
    }
  }

  /// Stops taking images, runs every image already queued, and returns when the model's thread
  /// has ended.
  public func finish() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let done: Bool = condition.withLock {
        accepting = false
        condition.broadcast()
        if threadDone || !started { return true }
        finished.append(continuation)
        return false
      }
      if done { continuation.resume() }
    }
  }

  private func loop() {
    while let batch = nextBatch() {
      let live = batch.filter { !$0.isAnswered }
      guard !live.isEmpty else { continue }
      let start = ContinuousClock.now
      let outputs = run(live.map(\.image))
      let elapsed = ContinuousClock.now - start
      metrics?.recordBatch(size: live.count, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
      for (job, output) in zip(live, outputs) { job.answer(.success(output)) }
    }
    let waiting: [CheckedContinuation<Void, Never>] = condition.withLock {
      threadDone = true
      defer { finished = [] }
      return finished
    }
    for continuation in waiting { continuation.resume() }
  }

  /// Waits for work and returns the next batch, or nil once stopped with nothing left.
  private func nextBatch() -> [Job]? {
    condition.lock()
    defer { condition.unlock() }
    while queue.isEmpty {
      if !accepting { return nil }
      condition.wait()
    }
    // Waiting only helps while more images are on their way; stopping flushes at once.
    let due = queue[0].arrival + maxWait
    while queue.count < maxBatchSize && accepting && arriving > 0 {
      let left = ContinuousClock.now.duration(to: due)
      guard left > .zero else { break }
      let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) * 1e-18
      _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
    }
    let batch = footprint == nil ? Array(queue.prefix(maxBatchSize)) : compatibleBatch()
    let taken = Set(batch.map(ObjectIdentifier.init))
    queue.removeAll { taken.contains(ObjectIdentifier($0)) }
    metrics?.setQueueDepth(queue.count)
    return batch
  }

  /// The oldest queued image, and in arrival order those that keep the batch's padded pixels
  /// within (1 + `maxPaddingWaste`) × the images' own.
  private func compatibleBatch() -> [Job] {
    var batch = [queue[0]]
    var height = queue[0].footprint.height, width = queue[0].footprint.width
    var pixels = height * width
    for job in queue.dropFirst() where batch.count < maxBatchSize {
      let h = Swift.max(height, job.footprint.height), w = Swift.max(width, job.footprint.width)
      let own = pixels + job.footprint.height * job.footprint.width
      guard Double(h * w * (batch.count + 1)) <= (1 + maxPaddingWaste) * Double(own) else { continue }
      batch.append(job)
      (height, width, pixels) = (h, w, own)
    }
    return batch
  }
}
