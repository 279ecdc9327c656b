import Foundation

/// A running sequence of batches: worker threads prepare batches ahead (at most
/// `prefetchBatches`), and `next()` hands them out in plan order. Stops its workers when it is
/// released, so leaving a loop early is fine.
public final class BatchStream: Sequence, IteratorProtocol {
  private let queue: WorkQueue
  private let reader: SampleReader
  private let options: LoaderOptions
  private var threads: [Thread] = []
  private let pool: BufferPool

  init(reader: SampleReader, jobs: WorkQueue.Jobs, options: LoaderOptions, skipped: SkipCounter) {
    self.reader = reader
    self.options = options
    queue = WorkQueue(jobs: jobs, capacity: options.prefetchBatches + options.workerCount, skipped: skipped)
    pool = BufferPool(limit: options.prefetchBatches + options.workerCount + 1)
    let tables = options.normalization.lookupTables()
    let pool = pool
    for n in 0..<options.workerCount {
      let queue = queue
      let thread = Thread { [reader, options] in
        while let job = queue.claim() {
          queue.deliver(BatchStream.prepare(job, reader: reader, options: options, tables: tables, pool: pool), for: job)
        }
      }
      thread.name = "simpledet.data.worker.\(n)"
      thread.start()
      threads.append(thread)
    }
  }

  deinit {
    queue.stop()
  }

  /// The next batch, waiting for the workers if need be; nil at the end of a finite stream.
  public func next() -> Batch? {
    while true {
      let prepared: PreparedBatch?
      if options.workerCount == 0 {
        guard let job = queue.claim() else { return nil }
        queue.deliver(BatchStream.prepare(job, reader: reader, options: options, tables: options.normalization.lookupTables(), pool: pool), for: job)
        prepared = queue.take()
      } else {
        prepared = queue.take()
      }
      guard let prepared else { return nil }
      // A batch whose every image failed to load is skipped (already counted).
      guard prepared.count > 0 else { continue }
      let batch = Batch(prepared)
      pool.recycle(prepared.pixels)
      return batch
    }
  }

  static func prepare(_ job: Job, reader: SampleReader, options: LoaderOptions, tables: [[Float]], pool: BufferPool) -> PreparedBatch {
    var samples: [Sample] = []
    var skipped: [DataIssue] = []
    for index in job.indices {
      do {
        samples.append(try reader.sample(at: index, epoch: job.epoch))
      } catch {
        skipped.append(error.issue)
        options.onSkip?(error.issue)
      }
    }
    return PreparedBatch(
      epoch: job.epoch, index: job.index, samples: samples, skipped: skipped, tables: tables, padStride: options.padStride, pool: pool)
  }
}

/// The hand-over between workers and the consumer: jobs are claimed in plan order, results are
/// kept until the consumer takes them in the same order, and no job is claimed more than
/// `capacity` ahead of the consumer.
final class WorkQueue: @unchecked Sendable {
  enum Jobs {
    case finite([Job])
    case endless(sampler: BatchSampler, groups: [Int], epoch: Int, batch: Int)
  }

  private let condition = NSCondition()
  private var jobs: Jobs
  private let capacity: Int
  private let skipped: SkipCounter
  /// Sequence numbers: the next job to hand out and the next result the consumer takes.
  private var claimed = 0
  private var consumed = 0
  private var results: [Int: PreparedBatch] = [:]
  private var sequenceOfJob: [Int: Int] = [:]
  private var exhausted = false
  private var stopped = false
  // The current epoch's plan for endless streams.
  private var plan: [[Int]] = []
  private var planEpoch = 0
  private var planPosition = 0

  init(jobs: Jobs, capacity: Int, skipped: SkipCounter) {
    self.jobs = jobs
    self.capacity = capacity
    self.skipped = skipped
    if case .endless(let sampler, let groups, let epoch, let batch) = jobs {
      planEpoch = epoch
      plan = sampler.batches(groups: groups, epoch: epoch)
      planPosition = batch
    }
  }

  /// The next job for a worker, waiting while the consumer is `capacity` behind; nil when the
  /// jobs are done or the stream stopped.
  func claim() -> (Job)? {
    condition.lock()
    defer { condition.unlock() }
    while !stopped && claimed >= consumed + capacity { condition.wait() }
    guard !stopped, let job = nextJob() else {
      exhausted = true
      condition.broadcast()
      return nil
    }
    sequenceOfJob[job.epoch &* 1_000_003 &+ job.index] = claimed
    claimed += 1
    return job
  }

  func deliver(_ batch: PreparedBatch, for job: Job) {
    skipped.add(batch.skipped)
    condition.lock()
    defer { condition.unlock() }
    let key = job.epoch &* 1_000_003 &+ job.index
    if let sequence = sequenceOfJob.removeValue(forKey: key) { results[sequence] = batch }
    condition.broadcast()
  }

  /// The next result in order, waiting for it; nil when there are no more.
  func take() -> PreparedBatch? {
    condition.lock()
    defer { condition.unlock() }
    while results[consumed] == nil && !(exhausted && consumed >= claimed) && !stopped { condition.wait() }
    guard let batch = results.removeValue(forKey: consumed) else { return nil }
    consumed += 1
    condition.broadcast()
    return batch
  }

  func stop() {
    condition.lock()
    stopped = true
    results.removeAll()
    condition.broadcast()
    condition.unlock()
  }

  private func nextJob() -> Job? {
    switch jobs {
    case .finite(let list):
      return claimed < list.count ? list[claimed] : nil
    case .endless(let sampler, let groups, _, _):
      while planPosition >= plan.count {
        planEpoch += 1
        plan = sampler.batches(groups: groups, epoch: planEpoch)
        planPosition = 0
        if plan.isEmpty { return nil }
      }
      defer { planPosition += 1 }
      return Job(epoch: planEpoch, index: planPosition, indices: plan[planPosition])
    }
  }
}
