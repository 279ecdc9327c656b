import Foundation
import Testing
import Torch

@testable import Data

@Suite struct LoaderTests {
  let dataset = ShapesDataset(imageCount: 24, seed: 2).dataset
  let pipeline = TransformPipeline([ResizeShortestEdge(sizes: [96, 128], maxSize: 200), RandomHorizontalFlip(), PhotometricJitter()])

  func loader(workers: Int, seed: UInt64 = 5, masks: Bool = false, rank: Int = 0, worldSize: Int = 1) -> DataLoader {
    DataLoader(
      dataset: dataset, transforms: pipeline,
      options: LoaderOptions(
        sampler: BatchSampler(batchSize: 3, seed: seed, rank: rank, worldSize: worldSize), workerCount: workers, prefetchBatches: 2,
        includeMasks: masks))
  }

  /// A batch's content as plain values, to compare runs.
  func summary(_ batch: Batch) -> [String] {
    [
      "\(batch.epoch).\(batch.index) ids \(batch.records.map(\.imageId)) sizes \(batch.imageSizes.map { "\($0.height)x\($0.width)" })",
      "pixels \(batch.images.sum().doubleValue())",
      "boxes \(batch.targets.map { $0["boxes"]!.toArray(Float.self) })",
      "labels \(batch.targets.map { $0["labels"]!.toArray(Int64.self) })",
    ]
  }

  @Test func sameSeedAndEpochGiveTheSameBatchesWhateverTheWorkers() {
    let reference = loader(workers: 0).epoch(1).map(summary)
    #expect(reference.count == 8)
    #expect(loader(workers: 1).epoch(1).map(summary) == reference)
    #expect(loader(workers: 2).epoch(1).map(summary) == reference)
    #expect(loader(workers: 2).epoch(2).map(summary) != reference)
    #expect(loader(workers: 2, seed: 6).epoch(1).map(summary) != reference)
  }

  @Test func resumingMidEpochSeesTheSameData() {
    let full = loader(workers: 2).epoch(3).map(summary)
    let resumed = loader(workers: 2).epoch(3, startingAtBatch: 5).map(summary)
    #expect(resumed == Array(full[5...]))
    // The endless stream continues into the next epoch with that epoch's order.
    let endless = Array(loader(workers: 2).batches(from: 3, batch: 6).prefix(4).map(summary))
    let next = loader(workers: 0).epoch(4).map(summary)
    #expect(endless == Array(full[6...]) + Array(next.prefix(2)))
  }

  @Test func batchesGroupByAspectRatioAndPadToTheStride() {
    for batch in loader(workers: 2).epoch(0) {
      #expect(Set(batch.records.map(\.isLandscape)).count == 1)
      let shape = batch.images.shape
      #expect(shape[0] == 3 && shape[1] == 3 && shape[2] % 32 == 0 && shape[3] % 32 == 0)
      for (i, size) in batch.imageSizes.enumerated() {
        #expect(shape[2] >= size.height && shape[3] >= size.width)
        // Padding is zero; the image is in [0, 1].
        if size.width < shape[3] { #expect(batch.images[i, .all, .all, size.width...].abs().sum().doubleValue() == 0) }
        let image = batch.image(i)
        #expect(image.shape == [3, size.height, size.width])
        #expect(image.min().doubleValue() >= 0 && image.max().doubleValue() <= 1)
      }
    }
  }

  /// Any number of groups: each batch holds one group's images, in the shuffled order in which
  /// the batches fill up; the incomplete ones are dropped, or kept with `dropLast` off.
  @Test func batchesHoldOneGroupEach() {
    let groups = (0..<40).map { ($0 * 7) % 5 }
    let batches = BatchSampler(batchSize: 3, seed: 2).batches(groups: groups, epoch: 1)
    #expect(batches.allSatisfy { batch in batch.count == 3 && Set(batch.map { groups[$0] }).count == 1 })
    // Eight images per group: two full batches each, two images left over.
    #expect(batches.count == 10)
    let order = BatchSampler(batchSize: 3, seed: 2).indices(count: 40, epoch: 1)
    let filled = batches.map { batch in batch.map { order.firstIndex(of: $0)! }.max()! }
    #expect(filled == filled.sorted(), "a batch comes out when its last image arrives")
    let kept = BatchSampler(batchSize: 3, seed: 2, dropLast: false).batches(groups: groups, epoch: 1)
    #expect(kept.count == 15 && kept.flatMap { $0 }.sorted() == Array(0..<40))
  }

  @Test func ranksShareEachGlobalBatchWhateverTheWorldSize() {
    let groups = (0..<23).map { $0 % 3 != 0 ? 0 : 1 }
    let single = BatchSampler(batchSize: 4, seed: 1)
    let global = single.batches(groups: groups, epoch: 4)
    for worldSize in [2, 4] {
      let parts = (0..<worldSize).map { rank in
        BatchSampler(batchSize: 4, seed: 1, rank: rank, worldSize: worldSize).batches(groups: groups, epoch: 4)
      }
      for part in parts { #expect(part.count == global.count) }
      // Rank by rank, each global batch put back together is the single process's batch.
      for (b, batch) in global.enumerated() {
        #expect(parts.flatMap { $0[b] } == batch)
      }
    }
    let ids0 = Set(loader(workers: 1, rank: 0, worldSize: 3).epoch(0).flatMap { $0.records.map(\.imageId) })
    let ids1 = Set(loader(workers: 1, rank: 1, worldSize: 3).epoch(0).flatMap { $0.records.map(\.imageId) })
    #expect(!ids0.isEmpty && ids0.isDisjoint(with: ids1))
  }

  @Test func masksComeWithTheTargets() {
    let batch = loader(workers: 1, masks: true).epoch(0).next()!
    for (i, target) in batch.targets.enumerated() {
      let masks = target["masks"]!
      #expect(masks.shape == [target["boxes"]!.shape[0], batch.imageSizes[i].height, batch.imageSizes[i].width])
      #expect(masks.dtype == .uint8)
    }
  }

  @Test func corruptAndMissingImagesAreSkippedAndCounted() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let annotations = try ShapesDataset(imageCount: 6, seed: 4).exportCOCO(to: folder, imageFormat: .jpeg)
    try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).write(to: folder.appendingPathComponent(ShapesDataset.fileName(1, format: .jpeg)))
    try FileManager.default.removeItem(at: folder.appendingPathComponent(ShapesDataset.fileName(4, format: .jpeg)))
    let dataset = try COCOReader.read(annotations: annotations, images: folder)
    let reported = SkipLog()
    let loader = DataLoader(
      dataset: dataset, transforms: TransformPipeline([ResizeShortestEdge(120)]),
      options: LoaderOptions(sampler: BatchSampler(batchSize: 2, shuffle: false, groupsImages: false), workerCount: 2, onSkip: { reported.add($0) }))
    let batches = Array(loader.epoch(0))
    #expect(batches.map(\.count).reduce(0, +) == 4)
    #expect(loader.skippedImages == 2)
    #expect(Set(loader.skipIssues.map(\.kind)) == [.corruptImage, .missingImage])
    #expect(reported.count == 2)
  }

  @Test func fastDownscaleKeepsBoxesInTheResizedFrame() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let annotations = try ShapesDataset(imageCount: 2, seed: 4).exportCOCO(to: folder, imageFormat: .jpeg)
    let dataset = try COCOReader.read(annotations: annotations, images: folder)
    func boxes(fast: Bool) -> [[Float]] {
      let loader = DataLoader(
        dataset: dataset, transforms: TransformPipeline([ResizeShortestEdge(100)]),
        options: LoaderOptions(sampler: BatchSampler(batchSize: 1, shuffle: false), workerCount: 0, fastDownscale: fast))
      return loader.epoch(0).map { $0.targets[0]["boxes"]!.toArray(Float.self) }
    }
    let fast = boxes(fast: true)
    let slow = boxes(fast: false)
    for (a, b) in zip(fast.joined(), slow.joined()) { #expect(abs(a - b) < 0.01) }
  }

  @Test func stoppingEarlyReleasesTheWorkers() {
    for _ in 0..<3 {
      let stream = loader(workers: 2).batches()
      _ = stream.next()
    }
  }
}

final class SkipLog: @unchecked Sendable {
  private let lock = NSLock()
  private var issues: [DataIssue] = []
  func add(_ issue: DataIssue) { lock.withLock { issues.append(issue) } }
  var count: Int { lock.withLock { issues.count } }
}
