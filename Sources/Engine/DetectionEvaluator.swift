import Config
import Data
import Detection
import Evaluation
import Foundation
import Masks
import Torch

/// COCO box AP of a detector on a dataset: runs inference over every image, then scores the
/// detections against the dataset's annotations with `COCOEvaluator`.
public struct DetectionEvaluator: Sendable {
  public let dataset: Dataset
  public let classes: DetectionClasses
  public let batchSize: Int
  public let workers: Int
  /// For COCO datasets, the annotation file itself: its `area` fields decide the
  /// small/medium/large buckets, as with pycocotools. Without it the box areas do.
  public let cocoAnnotations: URL?
  public let precision: RuntimeSection.Precision

  public init(
    dataset: Dataset, classes: DetectionClasses, batchSize: Int = 2, workers: Int = 2, cocoAnnotations: URL? = nil,
    precision: RuntimeSection.Precision = .fp32
  ) {
    self.precision = precision
    self.dataset = dataset
    self.classes = classes
    self.batchSize = batchSize
    self.workers = workers
    self.cocoAnnotations = cocoAnnotations
  }

  /// Every image's detections, as COCO results with the dataset's image and category ids;
  /// `progress` hears (images done, images in all).
  ///
  /// With `rank` and `worldSize`, only this worker's share: `batchSize` images of every
  /// `batchSize × worldSize`, so the shares cover each image once.
  public func detections(
    of model: any Detector, rank: Int = 0, worldSize: Int = 1, progress: ((Int, Int) -> Void)? = nil
  ) -> [COCODetection] {
    let wasTraining = model.isTraining
    model.eval()
    defer { if wasTraining { model.train() } }
    let options = LoaderOptions(
      sampler: BatchSampler(
        batchSize: batchSize * worldSize, shuffle: false, groupsImages: false, dropLast: false, rank: rank,
        worldSize: worldSize),
      workerCount: workers, normalization: .unit)
    let loader = DataLoader(dataset: dataset, transforms: TransformPipeline([any Transform]()), options: options)
    var results: [COCODetection] = []
    var done = 0
    for batch in loader.epoch(0) {
      let images = (0..<batch.count).map { batch.image($0) }
      let detected = withPrecision(precision) { model.detect(images) }
      for (record, found) in zip(batch.records, detected) {
        results += cocoDetections(found, imageId: record.imageId, classes: classes, keepingBackground: false)
      }
      done += batch.count
      progress?(done, dataset.count)
    }
    return results
  }

  /// The twelve COCO box metrics of `model` on the dataset, and the mask metrics for models
  /// with masks.
  public func evaluate(_ model: any Detector, progress: ((Int, Int) -> Void)? = nil) throws -> EvaluationReport {
    let found = detections(of: model, progress: progress)
    let truth = try groundTruth(withMasks: model.hasMasks)
    let bbox = try COCOEvaluator(groundTruth: truth, iouType: .bbox).evaluate(found).stats
    guard model.hasMasks else { return EvaluationReport(bbox: bbox) }
    let segm = try COCOEvaluator(groundTruth: truth, iouType: .segm).evaluate(found).stats
    return EvaluationReport(bbox: bbox, segm: segm)
  }

  /// Distributed evaluation: every worker runs inference on its share of the images with rank
  /// 0's batch-norm statistics, rank 0 gathers the detections through the group's store and
  /// scores them once. The report on rank 0 (equal to a single process's on the same weights),
  /// nil on the others. `tag` names this evaluation among the run's (its iteration).
  public func evaluate(_ model: any Detector, across distributed: DistributedTraining, tag: String) throws
    -> EvaluationReport?
  {
    try distributed.broadcastFromMain(model.namedBuffers().map(\.1))
    let found = detections(of: model, rank: distributed.rank, worldSize: distributed.worldSize)
    let group = distributed.group
    let key = { (rank: Int) in "eval/\(tag)/\(rank)" }
    guard distributed.isMain else {
      try distributed.collective("send detections to rank 0") {
        try group.setValue([UInt8](COCOResultsFile.encode(found)), forKey: key(distributed.rank))
      }
      return nil
    }
    let truth = try groundTruth(withMasks: model.hasMasks)
    var all = found
    for rank in 1..<distributed.worldSize {
      let bytes = try distributed.collective("gather rank \(rank)'s detections") {
        let bytes = try group.value(forKey: key(rank))
        try group.deleteValue(forKey: key(rank))
        return bytes
      }
      all += try COCOResultsFile.decode(json: Data(bytes), groundTruth: truth, sourceName: "rank \(rank)'s detections")
    }
    let bbox = try COCOEvaluator(groundTruth: truth, iouType: .bbox).evaluate(all).stats
    guard model.hasMasks else { return EvaluationReport(bbox: bbox) }
    let segm = try COCOEvaluator(groundTruth: truth, iouType: .segm).evaluate(all).stats
    return EvaluationReport(bbox: bbox, segm: segm)
  }

  /// The ground truth as COCO's evaluator reads it; `withMasks` adds each instance's mask
  /// (from its segmentation, or rendered for the shapes dataset).
  public func groundTruth(withMasks: Bool = false) throws -> COCOGroundTruth {
    if let cocoAnnotations { return try COCOGroundTruth(contentsOf: cocoAnnotations) }
    var annotations: [COCOAnnotation] = []
    for (index, record) in dataset.records.enumerated() {
      var masks: [RLE?] = record.instances.map { instance in
        switch instance.segmentation {
        case .polygons(let polygons): RLE(polygons: polygons, height: record.height, width: record.width)
        case .runLength(let rle): rle
        case nil: nil
        }
      }
      if withMasks, case .shapes(let shapes) = dataset.imageSource {
        let rendered = shapes.rendered(at: index).masks
        masks = rendered.map { RLE(mask: $0, height: record.height, width: record.width, order: .rowMajor) }
      }
      for (i, instance) in record.instances.enumerated() {
        let box = BoundingBox(
          x: Double(instance.box.x1), y: Double(instance.box.y1), width: Double(instance.box.width),
          height: Double(instance.box.height))
        let mask = withMasks ? masks[i] : nil
        annotations.append(
          COCOAnnotation(
            id: annotations.count + 1, imageID: record.imageId,
            categoryID: dataset.metadata.categoryId(forLabel: instance.label), box: box,
            area: mask.map { Double($0.area) } ?? box.area, isCrowd: instance.isCrowd,
            segmentation: mask.map { .mask($0) }))
      }
    }
    return try COCOGroundTruth(
      images: dataset.records.map { COCOImage(id: $0.imageId, width: $0.width, height: $0.height) },
      categories: dataset.metadata.categories.map { COCOCategory(id: $0.id, name: $0.name) },
      annotations: annotations, sourceName: dataset.annotationFile)
  }
}

/// What `simpledet eval` and training write to `eval.json`: `{"bbox": {"AP": …, …}}`, with
/// `segm` beside `bbox` for models with masks.
public struct EvaluationReport: Sendable, Equatable {
  public var bbox: COCOStats
  public var segm: COCOStats?

  public init(bbox: COCOStats, segm: COCOStats? = nil) {
    self.bbox = bbox
    self.segm = segm
  }

  /// Metric name to value, per IoU type.
  public var dictionary: [String: [String: Double]] {
    var out = ["bbox": Dictionary(uniqueKeysWithValues: zip(COCOStats.names, bbox.values))]
    if let segm { out["segm"] = Dictionary(uniqueKeysWithValues: zip(COCOStats.names, segm.values)) }
    return out
  }

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(dictionary)
  }

  /// A short table of the main numbers, in percent.
  public var table: String {
    var lines: [String] = []
    for (name, stats) in [("bbox", Optional(bbox)), ("segm", segm)] {
      guard let stats else { continue }
      let keys = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
      lines.append("\(name.padding(toLength: 5, withPad: " ", startingAt: 0)) " + keys.map { $0.padding(toLength: 7, withPad: " ", startingAt: 0) }.joined())
      lines.append("      " + keys.map { key in
        let value = stats[key] ?? -1
        let text = value < 0 ? "-" : String(format: "%.2f", value * 100)
        return text.padding(toLength: 7, withPad: " ", startingAt: 0)
      }.joined())
    }
    return lines.joined(separator: "\n")
  }
}

/// One image's detections (boxes in original pixels) as COCO results, with masks thresholded at
/// 0.5 and run-length encoded when the detector predicts them. Without `keepingBackground`, the
/// background slot's (label 0, which one-stage heads score like a class) are left out: they name
/// no category, and pycocotools ignores detections of categories the ground truth lacks.
func cocoDetections(_ found: Instances, imageId: Int, classes: DetectionClasses, keepingBackground: Bool = true)
  -> [COCODetection]
{
  guard let boxes = found["boxes"], let scores = found["scores"], let labels = found["labels"] else { return [] }
  let n = boxes.shape[0]
  guard n > 0 else { return [] }
  let b = boxes.to(.float64).toArray(Double.self)
  let s = scores.to(.float64).toArray(Double.self)
  let l = labels.to(.int64).toArray(Int64.self)
  let masks = found["masks"].map(binaryMasks)
  return (0..<n).filter { keepingBackground || l[$0] != 0 }.map { i in
    COCODetection(
      imageID: imageId, categoryID: classes.categoryId(ofLabel: Int(l[i])), score: s[i],
      box: BoundingBox(x1: b[4 * i], y1: b[4 * i + 1], x2: b[4 * i + 2], y2: b[4 * i + 3]),
      segmentation: masks.map { .mask($0[i]) })
  }
}

/// `[N, 1, H, W]` mask probabilities as run-length masks of the pixels at 0.5 or more
/// (torchvision's and detectron2's threshold).
func binaryMasks(_ probabilities: Tensor) -> [RLE] {
  let n = probabilities.shape[0]
  let height = probabilities.shape[2]
  let width = probabilities.shape[3]
  let bytes = (probabilities .>= 0.5).to(.uint8).toArray(UInt8.self)
  let size = height * width
  return (0..<n).map { i in
    RLE(mask: Array(bytes[i * size ..< (i + 1) * size]), height: height, width: width, order: .rowMajor)
  }
}
