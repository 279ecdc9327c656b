/// Decides which images go together in which batch, for a seed and an epoch, before any pixel is
/// read: the same `(seed, epoch)` always gives the same batches, so a resumed run can skip to
/// where it stopped and see exactly the data it would have seen.
public struct BatchSampler: Sendable, Equatable {
  public var batchSize: Int
  public var shuffle: Bool
  public var seed: UInt64
  /// Put only images of one group in a batch (`LoaderOptions.batchGroup`: by default landscape
  /// or portrait, detectron2's aspect ratio grouping), so padding to the batch's largest image
  /// wastes little.
  public var groupsImages: Bool
  /// Leave out the last, incomplete batch of an epoch (training); keep it for evaluation.
  public var dropLast: Bool
  /// Distributed training: this process's rank among `worldSize`. The batches are the global
  /// ones, of `batchSize` images, whatever the world size; each rank takes its own consecutive
  /// `batchSize / worldSize` of every batch. So the images trained on, and their order, do not
  /// depend on how many processes share the work, and a run resumed with another number of
  /// processes continues the same sequence.
  public var rank: Int
  public var worldSize: Int

  public init(
    batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, groupsImages: Bool = true, dropLast: Bool = true,
    rank: Int = 0, worldSize: Int = 1
  ) {
    precondition(batchSize > 0, "BatchSampler: batch size must be positive")
    precondition(worldSize > 0 && (0..<worldSize).contains(rank), "BatchSampler: rank \(rank) outside world size \(worldSize)")
    precondition(batchSize % worldSize == 0, "BatchSampler: batch size \(batchSize) is not a multiple of world size \(worldSize)")
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
    self.groupsImages = groupsImages
    self.dropLast = dropLast
    self.rank = rank
    self.worldSize = worldSize
  }

  /// The dataset's indices in the order of `epoch`.
  public func indices(count: Int, epoch: Int) -> [Int] {
    var order = Array(0..<count)
    if shuffle {
      var random = SeededRandom(seed: seed, 0x5A4D, epoch)
      order.shuffle(using: &random)
    }
    return order
  }

  /// This rank's part of each batch of `epoch`, as lists of dataset indices; `groups[i]` is
  /// record i's group.
  public func batches(groups: [Int], epoch: Int) -> [[Int]] {
    let global = globalBatches(groups: groups, epoch: epoch)
    guard worldSize > 1 else { return global }
    let share = batchSize / worldSize
    // An incomplete last batch (kept when not dropLast) is shared as far as it goes; a rank
    // past its end gets none.
    return global.compactMap { batch in
      let start = Swift.min(rank * share, batch.count)
      let end = Swift.min(start + share, batch.count)
      return start < end ? Array(batch[start..<end]) : nil
    }
  }

  /// The batches of `epoch` over all ranks.
  public func globalBatches(groups: [Int], epoch: Int) -> [[Int]] {
    let order = indices(count: groups.count, epoch: epoch)
    var batches: [[Int]] = []
    if groupsImages {
      // A batch leaves its bucket as soon as it is full, so the order stays the shuffled one.
      var buckets: [Int: [Int]] = [:]
      for index in order {
        let group = groups[index]
        buckets[group, default: []].append(index)
        if buckets[group]!.count == batchSize {
          batches.append(buckets[group]!)
          buckets[group] = []
        }
      }
      if !dropLast {
        for group in buckets.keys.sorted() where !buckets[group]!.isEmpty { batches.append(buckets[group]!) }
      }
    } else {
      var start = 0
      while start < order.count {
        let end = min(start + batchSize, order.count)
        if end - start == batchSize || !dropLast { batches.append(Array(order[start..<end])) }
        start = end
      }
    }
    return batches
  }
}
