import Foundation
import Masks

public struct COCOImage: Hashable, Sendable {
  public var id: Int
  /// Needed to rasterise polygons; COCO files always give it.
  public var width: Int?
  public var height: Int?

  public init(id: Int, width: Int?, height: Int?) {
    self.id = id
    self.width = width
    self.height = height
  }
}

public struct COCOCategory: Hashable, Sendable {
  public var id: Int
  public var name: String

  public init(id: Int, name: String) {
    self.id = id
    self.name = name
  }
}

/// One ground-truth object.
public struct COCOAnnotation: Hashable, Sendable {
  public var id: Int
  public var imageID: Int
  public var categoryID: Int
  /// Required for box evaluation.
  public var box: BoundingBox?
  /// The size COCO buckets the object by (small/medium/large). For ground truth this is the
  /// file's `area` (the mask area in COCO), never recomputed: pycocotools uses it as given.
  public var area: Double?
  /// Crowd regions are never counted as misses, and detections inside them are not false
  /// positives.
  public var isCrowd: Bool
  /// Required for mask evaluation.
  public var segmentation: COCOSegmentation?

  public init(
    id: Int, imageID: Int, categoryID: Int, box: BoundingBox?, area: Double?, isCrowd: Bool = false,
    segmentation: COCOSegmentation? = nil
  ) {
    self.id = id
    self.imageID = imageID
    self.categoryID = categoryID
    self.box = box
    self.area = area
    self.isCrowd = isCrowd
    self.segmentation = segmentation
  }
}

/// A COCO ground-truth file: images, categories and annotations, checked for consistency.
///
/// Unlike pycocotools, which drops annotations of unknown images or categories without a word,
/// such files are rejected: a silently smaller ground truth gives plausible but wrong numbers.
public struct COCOGroundTruth: Sendable {
  public let images: [COCOImage]
  public let categories: [COCOCategory]
  public let annotations: [COCOAnnotation]
  /// The file it came from, for error messages.
  public let sourceName: String?
  let imageIndex: [Int: Int]
  let categoryIndex: [Int: Int]

  public init(
    images: [COCOImage], categories: [COCOCategory], annotations: [COCOAnnotation], sourceName: String? = nil
  ) throws(EvaluationError) {
    func fail(_ message: String) -> EvaluationError { EvaluationError(file: sourceName, message) }
    var imageIndex: [Int: Int] = [:]
    imageIndex.reserveCapacity(images.count)
    for (index, image) in images.enumerated() {
      guard imageIndex.updateValue(index, forKey: image.id) == nil else {
        throw fail("images[\(index)]: image id \(image.id) appears twice")
      }
      if let width = image.width, let height = image.height, width < 0 || height < 0 {
        throw fail("images[\(index)]: negative size \(width)×\(height)")
      }
    }
    var categoryIndex: [Int: Int] = [:]
    for (index, category) in categories.enumerated() {
      guard categoryIndex.updateValue(index, forKey: category.id) == nil else {
        throw fail("categories[\(index)]: category id \(category.id) appears twice")
      }
    }
    var annotationIDs = Set<Int>()
    annotationIDs.reserveCapacity(annotations.count)
    for (index, annotation) in annotations.enumerated() {
      let record = "annotations[\(index)] (id \(annotation.id))"
      guard annotationIDs.insert(annotation.id).inserted else {
        throw fail("\(record): annotation id appears twice")
      }
      guard let image = imageIndex[annotation.imageID] else {
        throw fail("\(record): image_id \(annotation.imageID) is not among the images")
      }
      guard categoryIndex[annotation.categoryID] != nil else {
        throw fail("\(record): category_id \(annotation.categoryID) is not among the categories")
      }
      if let box = annotation.box, let problem = boxProblem(box) {
        throw fail("\(record): bbox \(problem)")
      }
      if let area = annotation.area, !area.isFinite {
        throw fail("\(record): area is not a finite number")
      }
      if let segmentation = annotation.segmentation,
        let problem = segmentationProblem(segmentation, image: images[image])
      {
        throw fail("\(record): segmentation \(problem)")
      }
    }
    self.images = images
    self.categories = categories
    self.annotations = annotations
    self.sourceName = sourceName
    self.imageIndex = imageIndex
    self.categoryIndex = categoryIndex
  }

  /// Reads and checks a COCO ground-truth JSON file.
  public init(contentsOf url: URL) throws(EvaluationError) {
    let name = url.path
    let data = try readEvaluationFile(url)
    try self.init(json: data, sourceName: name)
  }

  /// Parses COCO ground-truth JSON.
  public init(json data: Data, sourceName: String? = nil) throws(EvaluationError) {
    let record: GroundTruthRecord
    do {
      record = try JSONDecoder().decode(GroundTruthRecord.self, from: data)
    } catch {
      throw EvaluationError.decoding(error, file: sourceName)
    }
    let images = record.images.map { COCOImage(id: $0.id, width: $0.width, height: $0.height) }
    let categories = record.categories.map { COCOCategory(id: $0.id, name: $0.name ?? String($0.id)) }
    var annotations: [COCOAnnotation] = []
    annotations.reserveCapacity(record.annotations?.count ?? 0)
    for (index, raw) in (record.annotations ?? []).enumerated() {
      var box: BoundingBox?
      if let values = raw.bbox {
        guard values.count == 4 else {
          throw EvaluationError(
            file: sourceName, "annotations[\(index)] (id \(raw.id)): bbox has \(values.count) numbers, not 4")
        }
        box = BoundingBox(x: values[0], y: values[1], width: values[2], height: values[3])
      }
      annotations.append(
        COCOAnnotation(
          id: raw.id, imageID: raw.image_id, categoryID: raw.category_id, box: box, area: raw.area,
          isCrowd: raw.iscrowd?.value ?? false, segmentation: raw.segmentation?.value))
    }
    try self.init(images: images, categories: categories, annotations: annotations, sourceName: sourceName)
  }

  public func image(withID id: Int) -> COCOImage? {
    imageIndex[id].map { images[$0] }
  }

  public func category(withID id: Int) -> COCOCategory? {
    categoryIndex[id].map { categories[$0] }
  }
}

/// Why a box cannot be evaluated, or nil when it can.
func boxProblem(_ box: BoundingBox) -> String? {
  guard box.x.isFinite, box.y.isFinite, box.width.isFinite, box.height.isFinite else {
    return "has a value that is not a finite number"
  }
  guard box.width >= 0, box.height >= 0 else {
    return "has a negative width or height (\(box.width), \(box.height)); boxes are [x, y, width, height]"
  }
  return nil
}

/// Why a segmentation cannot be evaluated on this image, or nil when it can.
func segmentationProblem(_ segmentation: COCOSegmentation, image: COCOImage) -> String? {
  switch segmentation {
  case .polygons(let polygons):
    for polygon in polygons {
      // Beyond this the rasteriser's integer grid would overflow; no real image is that large.
      if polygon.contains(where: { !$0.isFinite || abs($0) > 1e7 }) {
        return "has a polygon coordinate that is not a finite number of reasonable size"
      }
      // Rasterising walks the outline on a grid five times finer than the pixels, so its work
      // grows with the polygon, not the image: far-off corners on a tiny image took the results
      // reader's fuzz harness past 2 GB while the outline was stored, and still cost time
      // without it. Real outlines stay within about the image.
      if let height = image.height, let width = image.width {
        let (w, h) = (Double(width), Double(height))
        for corner in stride(from: 0, to: polygon.count - 1, by: 2)
        where !(-w...2 * w).contains(polygon[corner]) || !(-h...2 * h).contains(polygon[corner + 1]) {
          return "has a polygon corner (\(polygon[corner]), \(polygon[corner + 1])) more than the image's size (\(width)×\(height)) outside it"
        }
      }
    }
    return nil
  case .mask(let mask):
    if let height = image.height, let width = image.width, mask.height != height || mask.width != width {
      return "size \(mask.height)×\(mask.width) differs from the image's \(height)×\(width)"
    }
    if !mask.coversImage {
      return "run lengths do not add up to height × width (\(mask.height)×\(mask.width))"
    }
    return nil
  }
}
