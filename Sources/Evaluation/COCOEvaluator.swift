import Masks

/// COCO box and mask evaluation, with the numbers of pycocotools' `COCOeval`
/// (`evaluate()`, `accumulate()`, `summarize()`).
///
/// ```swift
/// let groundTruth = try COCOGroundTruth(contentsOf: gtURL)
/// let detections = try COCOResultsFile.read(contentsOf: resultsURL, groundTruth: groundTruth)
/// let evaluation = try COCOEvaluator(groundTruth: groundTruth, iouType: .bbox).evaluate(detections)
/// print(evaluation.summaryTable)
/// ```
///
/// Work is grouped per category and image once, each (image, category) pair's overlaps are
/// computed once, and the accumulation for a category runs right after its matching, so the
/// per-detection state never outgrows one category.
public struct COCOEvaluator: Sendable {
  public let groundTruth: COCOGroundTruth
  public let iouType: IoUType
  public let parameters: COCOParameters

  public init(groundTruth: COCOGroundTruth, iouType: IoUType, parameters: COCOParameters = .standard) {
    precondition(!parameters.iouThresholds.isEmpty && !parameters.recallThresholds.isEmpty, "thresholds must not be empty")
    precondition(!parameters.maxDetections.isEmpty && parameters.maxDetections.allSatisfy { $0 >= 0 }, "maxDetections must be non-negative")
    var parameters = parameters
    parameters.maxDetections.sort()
    self.groundTruth = groundTruth
    self.iouType = iouType
    self.parameters = parameters
  }

  public func evaluate(_ detections: [COCODetection]) throws(EvaluationError) -> COCOEvaluation {
    let imageIDs = Array(Set(parameters.imageIDs ?? groundTruth.images.map(\.id))).sorted()
    let categoryIDs = Array(Set(parameters.categoryIDs ?? groundTruth.categories.map(\.id))).sorted()
    let imageSlot = Dictionary(uniqueKeysWithValues: imageIDs.enumerated().map { ($1, $0) })
    let categorySlot = Dictionary(uniqueKeysWithValues: categoryIDs.enumerated().map { ($1, $0) })
    for id in imageIDs where groundTruth.image(withID: id) == nil {
      throw EvaluationError("image id \(id) was asked for but is not in the ground truth")
    }

    // Bucket keys are category-major, the order of pycocotools' evalImgs.
    let imageCount = imageIDs.count
    let annotations = groundTruth.annotations
    var gtKeys = [Int](repeating: -1, count: annotations.count)
    for (index, annotation) in annotations.enumerated() {
      if let i = imageSlot[annotation.imageID], let k = categorySlot[annotation.categoryID] {
        gtKeys[index] = k * imageCount + i
      }
    }
    var dtKeys = [Int](repeating: -1, count: detections.count)
    for (index, detection) in detections.enumerated() {
      guard groundTruth.image(withID: detection.imageID) != nil else {
        throw EvaluationError("detection \(index): image_id \(detection.imageID) is not in the ground truth")
      }
      guard groundTruth.category(withID: detection.categoryID) != nil else {
        throw EvaluationError("detection \(index): category_id \(detection.categoryID) is not in the ground truth")
      }
      guard detection.score.isFinite else { throw EvaluationError("detection \(index): score is not a finite number") }
      if let i = imageSlot[detection.imageID], let k = categorySlot[detection.categoryID] {
        dtKeys[index] = k * imageCount + i
      }
    }
    let keyCount = categoryIDs.count * imageCount
    let gtBuckets = Buckets(keys: gtKeys, keyCount: keyCount)
    let dtBuckets = Buckets(keys: dtKeys, keyCount: keyCount)

    let gtGeometry: Geometry
    let dtGeometry: Geometry
    do {
      gtGeometry = try groundTruthGeometry(keys: gtKeys)
    } catch {
      throw error.located(in: groundTruth.sourceName)
    }
    dtGeometry = try detectionGeometry(detections, keys: dtKeys)

    var gtArea = [Double](repeating: 0, count: annotations.count)
    var gtCrowd = [Bool](repeating: false, count: annotations.count)
    var gtHasZeroID = [Bool](repeating: false, count: annotations.count)
    for (index, annotation) in annotations.enumerated() where gtKeys[index] >= 0 {
      guard let area = annotation.area else {
        throw EvaluationError(
          file: groundTruth.sourceName, "annotation id \(annotation.id) has no area (COCO buckets objects by it)")
      }
      gtArea[index] = area
      gtCrowd[index] = annotation.isCrowd
      gtHasZeroID[index] = annotation.id == 0
    }
    let dtScore = detections.map(\.score)

    var accumulator = Accumulator(parameters: parameters, categoryCount: categoryIDs.count)
    var matcher = Matcher(parameters: parameters)
    for k in categoryIDs.indices {
      var category = CategoryMatches(parameters: parameters)
      for i in 0..<imageCount {
        let key = k * imageCount + i
        let gts = gtBuckets[key]
        let dts = dtBuckets[key]
        if gts.isEmpty && dts.isEmpty { continue }
        matcher.match(
          groundTruths: gts, detections: dts, gtGeometry: gtGeometry, dtGeometry: dtGeometry, gtArea: gtArea,
          gtCrowd: gtCrowd, gtHasZeroID: gtHasZeroID, dtScore: dtScore, into: &category)
      }
      accumulator.accumulate(category, categorySlot: k)
    }
    return COCOEvaluation(
      iouType: iouType, parameters: parameters, imageIDs: imageIDs, categoryIDs: categoryIDs,
      categoryNames: categoryIDs.map { groundTruth.category(withID: $0)?.name ?? String($0) },
      precision: accumulator.precision, recall: accumulator.recall, scores: accumulator.scores)
  }

  // MARK: geometry

  private func groundTruthGeometry(keys: [Int]) throws(EvaluationError) -> Geometry {
    let annotations = groundTruth.annotations
    switch iouType {
    case .bbox:
      var boxes = [BoundingBox](repeating: BoundingBox(x: 0, y: 0, width: 0, height: 0), count: annotations.count)
      for (index, annotation) in annotations.enumerated() where keys[index] >= 0 {
        guard let box = annotation.box else {
          throw EvaluationError("annotation id \(annotation.id) has no bbox, which box evaluation needs")
        }
        boxes[index] = box
      }
      return .boxes(boxes)
    case .segm:
      var masks = [RLE](repeating: RLE(height: 0, width: 0, counts: []), count: annotations.count)
      for (index, annotation) in annotations.enumerated() where keys[index] >= 0 {
        guard let segmentation = annotation.segmentation else {
          throw EvaluationError("annotation id \(annotation.id) has no segmentation, which mask evaluation needs")
        }
        do {
          masks[index] = try mask(of: segmentation, onImage: annotation.imageID)
        } catch {
          throw EvaluationError("annotation id \(annotation.id): \(error.message)")
        }
      }
      return .masks(masks)
    }
  }

  private func detectionGeometry(_ detections: [COCODetection], keys: [Int]) throws(EvaluationError) -> Geometry {
    switch iouType {
    case .bbox:
      var boxes = [BoundingBox](repeating: BoundingBox(x: 0, y: 0, width: 0, height: 0), count: detections.count)
      var areas = [Double](repeating: 0, count: detections.count)
      for (index, detection) in detections.enumerated() where keys[index] >= 0 {
        if let box = detection.box {
          if let problem = boxProblem(box) { throw EvaluationError("detection \(index): bbox \(problem)") }
          boxes[index] = box
          areas[index] = detection.area ?? box.area
        } else if let segmentation = detection.segmentation {
          let mask: RLE
          do {
            mask = try self.mask(of: segmentation, onImage: detection.imageID)
          } catch {
            throw EvaluationError("detection \(index): \(error.message)")
          }
          boxes[index] = mask.boundingBox
          areas[index] = detection.area ?? Double(mask.area)
        } else {
          throw EvaluationError("detection \(index) has neither bbox nor segmentation")
        }
      }
      return .boxes(boxes, areas: areas)
    case .segm:
      var masks = [RLE](repeating: RLE(height: 0, width: 0, counts: []), count: detections.count)
      var areas = [Double](repeating: 0, count: detections.count)
      for (index, detection) in detections.enumerated() where keys[index] >= 0 {
        do throws(EvaluationError) {
          if let segmentation = detection.segmentation {
            masks[index] = try mask(of: segmentation, onImage: detection.imageID)
          } else if let box = detection.box {
            // pycocotools turns a box-only result into the box's polygon.
            let image = try imageSize(detection.imageID)
            masks[index] = RLE(box: box, height: image.height, width: image.width)
          } else {
            throw EvaluationError("has neither bbox nor segmentation")
          }
        } catch {
          throw EvaluationError("detection \(index): \(error.message)")
        }
        areas[index] = detection.area ?? Double(masks[index].area)
      }
      return .masks(masks, areas: areas)
    }
  }

  private func imageSize(_ imageID: Int) throws(EvaluationError) -> (height: Int, width: Int) {
    guard let image = groundTruth.image(withID: imageID), let height = image.height, let width = image.width else {
      throw EvaluationError("image \(imageID) has no height/width, which polygons need")
    }
    return (height, width)
  }

  /// The mask pycocotools' `annToRLE` makes of a segmentation.
  private func mask(of segmentation: COCOSegmentation, onImage imageID: Int) throws(EvaluationError) -> RLE {
    switch segmentation {
    case .mask(let mask):
      guard let image = groundTruth.image(withID: imageID) else { throw EvaluationError("unknown image \(imageID)") }
      if let problem = segmentationProblem(segmentation, image: image) { throw EvaluationError("segmentation \(problem)") }
      return mask
    case .polygons(let polygons):
      // pycocotools reads a list whose first entry has 4 numbers as boxes and fails on it, and
      // fails on shorter ones too; say so instead of guessing.
      guard let first = polygons.first, first.count > 4 else {
        throw EvaluationError("segmentation polygon list is empty or starts with a polygon of fewer than 3 points")
      }
      let image = try imageSize(imageID)
      if let problem = segmentationProblem(segmentation, image: COCOImage(id: imageID, width: image.width, height: image.height)) {
        throw EvaluationError("segmentation \(problem)")
      }
      return RLE(polygons: polygons, height: image.height, width: image.width)
    }
  }
}

/// Boxes or masks of every record, indexed like the records; areas for detections.
enum Geometry {
  case boxes([BoundingBox], areas: [Double] = [])
  case masks([RLE], areas: [Double] = [])

  var areas: [Double] {
    switch self {
    case .boxes(_, let areas), .masks(_, let areas): return areas
    }
  }
}

/// Record indices grouped by key with a counting sort: file order is kept inside each group,
/// which the stable score sort and the matching rely on.
struct Buckets {
  private let starts: [Int]
  private let members: [Int]

  init(keys: [Int], keyCount: Int) {
    var starts = [Int](repeating: 0, count: keyCount + 1)
    for key in keys where key >= 0 { starts[key + 1] += 1 }
    for key in 0..<keyCount { starts[key + 1] += starts[key] }
    var next = starts
    var members = [Int](repeating: 0, count: starts[keyCount])
    for (index, key) in keys.enumerated() where key >= 0 {
      members[next[key]] = index
      next[key] += 1
    }
    self.starts = starts
    self.members = members
  }

  subscript(key: Int) -> ArraySlice<Int> {
    members[starts[key]..<starts[key + 1]]
  }
}
