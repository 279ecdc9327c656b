import Foundation
import Masks

/// Reads COCO `instances_*.json` files: images, categories with arbitrary ids (mapped to
/// contiguous labels in id order, as detectron2 does), boxes (`x, y, w, h` in the file),
/// polygons, RLE masks (plain or compressed counts), `iscrowd`, and `difficult` and `attributes`
/// where `COCOWriter` kept them (not COCO fields; attribute values other than numbers, number
/// lists, strings and booleans are passed over).
public enum COCOReader {
  /// Reads an annotation file; `images` is the folder its `file_name`s are relative to.
  public static func read(annotations url: URL, images: URL, policy: BadDataPolicy = .skip) throws -> Dataset {
    try read(readAnnotationFile(url), file: url.path, imageSource: .folder(images), policy: policy)
  }

  /// Reads annotation JSON held in memory; `file` names it in messages.
  public static func read(_ data: Data, file: String, imageSource: ImageSource, policy: BadDataPolicy = .skip) throws -> Dataset {
    let root = try JSONNode.parse(data, file: file)
    var checks = AnnotationChecks(file: file, policy: policy)

    var categories: [DatasetMetadata.Category] = []
    for node in try root.member("categories").array() {
      let id = try node.member("id").int()
      let name = try node.member("name").string()
      let supercategory = try node.optionalMember("supercategory")?.string()
      if categories.contains(where: { $0.id == id }) {
        checks.report(.duplicateCategoryId, record: "category \(id)", detail: "category id \(id) ('\(name)') appears again; the first is kept")
        continue
      }
      categories.append(DatasetMetadata.Category(id: id, name: name, supercategory: supercategory))
    }
    categories.sort { $0.id < $1.id }
    let metadata = DatasetMetadata(categories: categories)
    var labelOfCategory: [Int: Int] = [:]
    for (label, category) in categories.enumerated() { labelOfCategory[category.id] = label }

    var records: [DatasetRecord] = []
    var recordOfImage: [Int: Int] = [:]
    for node in try root.member("images").array() {
      let id = try node.member("id").int()
      let fileName = try node.member("file_name").string()
      let width = try node.member("width").int()
      let height = try node.member("height").int()
      if recordOfImage[id] != nil {
        checks.report(.duplicateImageId, record: "image \(id) (\(fileName))", detail: "image id \(id) appears again; the first is kept")
        continue
      }
      if width <= 0 || height <= 0 {
        checks.report(.invalidRecord, record: "image \(id) (\(fileName))", detail: "size \(width)x\(height)")
        continue
      }
      recordOfImage[id] = records.count
      let attributes = try node.optionalMember("attributes").map(readAttributes) ?? [:]
      records.append(DatasetRecord(imageId: id, fileName: fileName, width: width, height: height, attributes: attributes))
    }

    var seenAnnotations = Set<Int>()
    for node in try root.optionalMember("annotations")?.array() ?? [] {
      let id = try node.member("id").int()
      let record = "annotation \(id)"
      let imageId = try node.member("image_id").int()
      let categoryId = try node.member("category_id").int()
      let bbox = try node.member("bbox").doubles(count: 4)
      let isCrowd = try node.optionalMember("iscrowd")?.bool() ?? false
      let isDifficult = try node.optionalMember("difficult")?.bool() ?? false
      let segmentation = try node.optionalMember("segmentation").flatMap(readSegmentation)
      let attributes = try node.optionalMember("attributes").map(readAttributes) ?? [:]
      guard seenAnnotations.insert(id).inserted else {
        checks.report(.duplicateAnnotationId, record: record, detail: "annotation id \(id) appears again; the first is kept")
        continue
      }
      guard let index = recordOfImage[imageId] else {
        checks.report(.unknownImage, record: record, detail: "image_id \(imageId) is not in 'images'")
        continue
      }
      guard let label = labelOfCategory[categoryId] else {
        checks.report(.unknownCategory, record: record, detail: "category_id \(categoryId) is not in 'categories'")
        continue
      }
      let raw = Box(x: Float(bbox[0]), y: Float(bbox[1]), width: Float(bbox[2]), height: Float(bbox[3]))
      let image = records[index]
      guard let box = checks.checkedBox(raw, imageWidth: image.width, imageHeight: image.height, record: "\(record) (image \(imageId))") else {
        continue
      }
      if case .polygons(let polygons) = segmentation,
        !checks.checkPolygons(polygons, imageWidth: image.width, imageHeight: image.height, record: record)
      {
        continue
      }
      if case .runLength(let mask) = segmentation {
        guard mask.height == image.height, mask.width == image.width else {
          checks.report(.invalidRecord, record: record, detail: "RLE size \(mask.height)x\(mask.width) differs from the image's \(image.height)x\(image.width)")
          continue
        }
        guard mask.coversImage else {
          checks.report(.invalidRecord, record: record, detail: "RLE counts do not add up to \(mask.height)x\(mask.width) pixels")
          continue
        }
      }
      records[index].instances.append(
        AnnotationInstance(
          box: box, label: label, isCrowd: isCrowd, isDifficult: isDifficult, segmentation: segmentation, annotationId: id,
          attributes: attributes))
    }
    let issues = try checks.finish()
    return Dataset(records: records, metadata: metadata, imageSource: imageSource, annotationFile: file, issues: issues)
  }

  /// An `attributes` object's numbers, number lists, strings and booleans.
  private static func readAttributes(_ node: JSONNode) throws -> Attributes {
    var attributes: Attributes = [:]
    for (key, value) in try node.object() {
      switch value {
      case let number as NSNumber where JSONNode.isBoolean(number): attributes[key] = .bool(number.boolValue)
      case let number as NSNumber: attributes[key] = .number(number.doubleValue)
      case let text as String: attributes[key] = .string(text)
      case let list as [Any]:
        let numbers = list.compactMap { ($0 as? NSNumber)?.doubleValue }
        if numbers.count == list.count { attributes[key] = .numbers(numbers) }
      default: continue
      }
    }
    return attributes
  }

  private static func readSegmentation(_ node: JSONNode) throws -> Segmentation? {
    if node.value is [Any] {
      let polygons = try node.array().map { try $0.doubles() }
      return polygons.isEmpty ? nil : .polygons(polygons)
    }
    let sizeNode = try node.member("size")
    let size = try sizeNode.array().map { try $0.int() }
    guard size.count == 2, size[0] >= 0, size[1] >= 0 else { throw sizeNode.failure("expected [height, width]") }
    let countsNode = try node.member("counts")
    if countsNode.value is String {
      do {
        return .runLength(try RLE(height: size[0], width: size[1], compressedCounts: try countsNode.string()))
      } catch {
        throw countsNode.failure("\(error)")
      }
    }
    let runs = try countsNode.array().map { try $0.int() }
    guard let bad = runs.first(where: { $0 < 0 || $0 > Int(UInt32.max) }) else {
      return .runLength(RLE(height: size[0], width: size[1], counts: runs.map { UInt32($0) }))
    }
    throw countsNode.failure("run length \(bad) out of range")
  }
}
