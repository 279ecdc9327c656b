import Foundation

/// Shuffled, augmented, padded batches from a dataset, prepared by worker threads while the model
/// trains.
///
/// ```swift
/// let loader = DataLoader(dataset: ShapesDataset(imageCount: 500, seed: 0).dataset,
///                         transforms: TransformPipeline([ResizeShortestEdge(320), RandomHorizontalFlip()]),
///                         options: LoaderOptions(sampler: BatchSampler(batchSize: 4, seed: 1)))
/// for batch in loader.epoch(0) { ... }          // one epoch
/// for batch in loader.batches(from: 3, batch: 17) { ... }   // endless, resuming mid-epoch 3
/// ```
///
/// The order is fixed by the sampler's seed and the epoch, and each image's augmentation by the
/// seed, the epoch and the image's index, so the batches do not depend on the number of workers
/// or on timing. An image that cannot be loaded (missing, corrupt, of the wrong size) is skipped,
/// counted in `skippedImages`, and reported to `options.onSkip`; it never stops training.
public final class DataLoader: Sendable {
  public let dataset: Dataset
  public let transforms: TransformPipeline
  public let options: LoaderOptions
  private let groups: [Int]
  private let skipped = SkipCounter()

  public init(dataset: Dataset, transforms: TransformPipeline, options: LoaderOptions = LoaderOptions()) {
    self.dataset = dataset
    self.transforms = transforms
    self.options = options
    groups = dataset.records.map(options.batchGroup)
  }

  /// The batches of one epoch, as dataset indices (this rank's share).
  public func plan(epoch: Int) -> [[Int]] { options.sampler.batches(groups: groups, epoch: epoch) }

  public func batchCount(epoch: Int) -> Int { plan(epoch: epoch).count }

  /// One epoch's batches, from batch `startingAtBatch` on (to resume mid-epoch).
  public func epoch(_ epoch: Int, startingAtBatch start: Int = 0) -> BatchStream {
    let plan = plan(epoch: epoch)
    let jobs = start < plan.count ? Array(plan[start...].enumerated().map { Job(epoch: epoch, index: start + $0.offset, indices: $0.element) }) : []
    return BatchStream(reader: reader, jobs: .finite(jobs), options: options, skipped: skipped)
  }

  /// Batches without end, epoch after epoch, from `epoch` and batch `batch` on.
  public func batches(from epoch: Int = 0, batch: Int = 0) -> BatchStream {
    precondition(!dataset.records.isEmpty && batchCount(epoch: epoch) > 0, "DataLoader: the dataset gives no complete batch")
    return BatchStream(reader: reader, jobs: .endless(sampler: options.sampler, groups: groups, epoch: epoch, batch: batch), options: options, skipped: skipped)
  }

  /// Images skipped so far because they could not be loaded, over all streams.
  public var skippedImages: Int { skipped.count }
  /// The problems behind those skips (the first 1,000).
  public var skipIssues: [DataIssue] { skipped.issues }

  private var reader: SampleReader { SampleReader(dataset: dataset, transforms: transforms, options: options) }
}

struct Job: Sendable {
  let epoch: Int
  let index: Int
  let indices: [Int]
}

final class SkipCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var total = 0
  private var kept: [DataIssue] = []

  func add(_ issues: [DataIssue]) {
    guard !issues.isEmpty else { return }
    lock.withLock {
      total += issues.count
      kept += issues.prefix(max(0, 1000 - kept.count))
    }
  }

  var count: Int { lock.withLock { total } }
  var issues: [DataIssue] { lock.withLock { kept } }
}
