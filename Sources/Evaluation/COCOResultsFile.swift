import Foundation
import Masks

/// Reads and writes COCO results files: a JSON array of
/// `{"image_id", "category_id", "bbox": [x, y, w, h], "score", "segmentation": {"size", "counts"}}`.
public enum COCOResultsFile {
  /// Reads a results file and checks it against the ground truth: every record must name a
  /// known image and category, boxes must be four finite numbers with non-negative size, and
  /// masks must have their image's size.
  ///
  /// The area each detection is bucketed by follows pycocotools' `loadRes`, so that APs/APm/APl
  /// agree on the same file: when the first record has a non-empty `bbox`, areas are box areas
  /// (even for mask evaluation); otherwise they are mask areas. Drop `bbox` from mask results to
  /// bucket by mask area, as detectron2 does.
  public static func read(contentsOf url: URL, groundTruth: COCOGroundTruth) throws(EvaluationError) -> [COCODetection] {
    let name = url.path
    let data = try readEvaluationFile(url)
    return try decode(json: data, groundTruth: groundTruth, sourceName: name)
  }

  public static func decode(json data: Data, groundTruth: COCOGroundTruth, sourceName: String? = nil) throws(EvaluationError)
    -> [COCODetection]
  {
    let parsed: Result<[DetectionRecord], EvaluationError> = data.withUnsafeBytes { raw in
      var scanner = ResultsScanner(raw.bindMemory(to: UInt8.self))
      do throws(ResultsScanner.Failure) {
        return .success(try scanner.records())
      } catch {
        return .failure(EvaluationError(file: sourceName, "line \(scanner.line(of: error.offset)): \(error.message)"))
      }
    }
    let records = try parsed.get()
    func fail(_ index: Int, _ message: String) -> EvaluationError {
      EvaluationError(file: sourceName, "[\(index)]: \(message)")
    }
    let boxesGiveArea = records.first.map { ($0.bbox ?? []).isEmpty == false } ?? false
    var detections: [COCODetection] = []
    detections.reserveCapacity(records.count)
    for (index, record) in records.enumerated() {
      guard let image = groundTruth.image(withID: record.image_id) else {
        throw fail(index, "image_id \(record.image_id) is not in the ground truth")
      }
      guard groundTruth.category(withID: record.category_id) != nil else {
        throw fail(index, "category_id \(record.category_id) is not in the ground truth")
      }
      guard record.score.isFinite else { throw fail(index, "score is not a finite number") }
      var box: BoundingBox?
      if let values = record.bbox, !values.isEmpty {
        guard values.count == 4 else { throw fail(index, "bbox has \(values.count) numbers, not 4 [x, y, width, height]") }
        let candidate = BoundingBox(x: values[0], y: values[1], width: values[2], height: values[3])
        if let problem = boxProblem(candidate) { throw fail(index, "bbox \(problem)") }
        box = candidate
      }
      let segmentation = record.segmentation
      if let segmentation {
        if let problem = segmentationProblem(segmentation, image: image) {
          throw fail(index, "segmentation \(problem)")
        }
      }
      guard box != nil || segmentation != nil else { throw fail(index, "has neither bbox nor segmentation") }
      var area: Double?
      if boxesGiveArea, let box {
        area = box.area
      } else if let segmentation {
        switch segmentation {
        case .mask(let mask): area = Double(mask.area)
        case .polygons(let polygons):
          guard let height = image.height, let width = image.width else {
            throw fail(index, "image \(image.id) has no height/width to rasterise the polygon with")
          }
          area = Double(RLE(polygons: polygons, height: height, width: width).area)
        }
      } else {
        area = box?.area
      }
      detections.append(
        COCODetection(
          imageID: record.image_id, categoryID: record.category_id, score: record.score, box: box,
          segmentation: segmentation, area: area))
    }
    return detections
  }

  /// Encodes detections as a results file. Masks are written in compressed form (`counts` as a
  /// string) and polygons as given; numbers use the shortest text that reads back exactly.
  public static func encode(_ detections: [COCODetection]) -> Data {
    var text = "["
    text.reserveCapacity(detections.count * 96)
    for (index, detection) in detections.enumerated() {
      if index > 0 { text += "," }
      text += "\n{\"image_id\":\(detection.imageID),\"category_id\":\(detection.categoryID)"
      if let box = detection.box {
        text += ",\"bbox\":[\(number(box.x)),\(number(box.y)),\(number(box.width)),\(number(box.height))]"
      }
      text += ",\"score\":\(number(detection.score))"
      switch detection.segmentation {
      case .mask(let mask):
        text += ",\"segmentation\":{\"size\":[\(mask.height),\(mask.width)],\"counts\":\"\(mask.compressedCounts.jsonEscaped)\"}"
      case .polygons(let polygons):
        text += ",\"segmentation\":[" + polygons.map { "[" + $0.map(number).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
      case nil:
        break
      }
      text += "}"
    }
    text += detections.isEmpty ? "]\n" : "\n]\n"
    return Data(text.utf8)
  }

  public static func write(_ detections: [COCODetection], to url: URL) throws(EvaluationError) {
    do {
      try encode(detections).write(to: url, options: .atomic)
    } catch {
      throw EvaluationError(file: url.path, "cannot write the file (\(error.localizedDescription))")
    }
  }

  /// Writes a model's output, turning its contiguous labels into the dataset's category ids.
  public static func detections(
    imageID: Int, boxes: [BoundingBox], scores: [Double], labels: [Int], masks: [RLE]? = nil, categories: CategoryMap
  ) -> [COCODetection] {
    precondition(boxes.count == scores.count && boxes.count == labels.count, "boxes, scores and labels differ in length")
    precondition(masks == nil || masks!.count == boxes.count, "masks and boxes differ in length")
    return boxes.indices.map { index in
      COCODetection(
        imageID: imageID, categoryID: categories.categoryID(forLabel: labels[index]), score: scores[index],
        box: boxes[index], segmentation: masks.map { .mask($0[index]) })
    }
  }

  private static func number(_ value: Double) -> String {
    // Integral values print without ".0" as Python's json does for ints; both read back alike.
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return "\(value)"
  }
}

extension String {
  /// Compressed counts use characters 48...111, which include the backslash (92).
  fileprivate var jsonEscaped: String {
    contains("\\") ? replacingOccurrences(of: "\\", with: "\\\\") : self
  }
}
