/// Everything about how the loader reads, augments and batches.
public struct LoaderOptions: Sendable {
  public var sampler: BatchSampler
  /// Threads that decode and transform; 0 prepares batches on the consuming thread.
  public var workerCount: Int
  /// Batches prepared ahead of the consumer at most: bounds memory while keeping workers busy.
  public var prefetchBatches: Int
  /// Load instance masks (for Mask R-CNN); boxes alone are much cheaper.
  public var includeMasks: Bool
  /// Keep `iscrowd` instances (training usually drops them).
  public var includeCrowd: Bool
  public var normalization: Normalization
  /// The batch tensor's height and width are rounded up to a multiple of this (the backbone's
  /// total stride, 32 for FPN) so feature maps line up.
  public var padStride: Int
  /// Let JPEG decoding scale down in the DCT when the first transform resizes to a smaller size
  /// anyway (a large speed-up on photos bigger than the training size). Only without masks.
  public var fastDownscale: Bool
  /// Called (on a worker thread) for each image skipped during loading.
  public var onSkip: (@Sendable (DataIssue) -> Void)?
  /// The group of a record, for the sampler's `groupsImages`: by default 0 for landscape and 1
  /// for portrait images.
  public var batchGroup: @Sendable (DatasetRecord) -> Int

  public init(
    sampler: BatchSampler = BatchSampler(batchSize: 2), workerCount: Int = 2, prefetchBatches: Int = 4,
    includeMasks: Bool = false, includeCrowd: Bool = false, normalization: Normalization = .unit, padStride: Int = 32,
    fastDownscale: Bool = true, onSkip: (@Sendable (DataIssue) -> Void)? = nil,
    batchGroup: @escaping @Sendable (DatasetRecord) -> Int = { $0.isLandscape ? 0 : 1 }
  ) {
    precondition(workerCount >= 0 && prefetchBatches > 0 && padStride > 0, "LoaderOptions: bad worker, prefetch or stride setting")
    self.sampler = sampler
    self.workerCount = workerCount
    self.prefetchBatches = prefetchBatches
    self.includeMasks = includeMasks
    self.includeCrowd = includeCrowd
    self.normalization = normalization
    self.padStride = padStride
    self.fastDownscale = fastDownscale
    self.onSkip = onSkip
    self.batchGroup = batchGroup
  }
}
