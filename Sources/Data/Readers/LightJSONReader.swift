import Foundation

/// Reads SimpleDet's light JSON format, meant for users' own data (see docs/datasets.md):
///
/// ```json
/// {
///   "categories": ["cat", "dog"],
///   "images": [
///     {"file": "a.jpg", "width": 640, "height": 480,
///      "instances": [{"box": [10, 20, 110, 220], "category": "dog",
///                     "polygon": [[10, 20, 110, 20, 60, 220]]}]}
///   ]
/// }
/// ```
///
/// Boxes are `x1, y1, x2, y2` in pixels. `categories` fixes the label order; without it the
/// labels are the category names found, sorted. `polygon` (a list of polygons) and `crowd` are
/// optional.
public enum LightJSONReader {
  public static func read(annotations url: URL, images: URL, policy: BadDataPolicy = .skip) throws -> Dataset {
    try read(readAnnotationFile(url), file: url.path, imageSource: .folder(images), policy: policy)
  }

  public static func read(_ data: Data, file: String, imageSource: ImageSource, policy: BadDataPolicy = .skip) throws -> Dataset {
    let root = try JSONNode.parse(data, file: file)
    var checks = AnnotationChecks(file: file, policy: policy)
    let imageNodes = try root.member("images").array()

    // Read the names first: without a declared list, labels follow the sorted names found.
    var names: [String]
    let declared = try root.optionalMember("categories")
    if let declared {
      names = try declared.array().map { try $0.string() }
      if let duplicate = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
        throw declared.failure("category '\(duplicate)' is listed twice")
      }
    } else {
      var found = Set<String>()
      for image in imageNodes {
        for instance in try image.optionalMember("instances")?.array() ?? [] {
          found.insert(try instance.member("category").string())
        }
      }
      names = found.sorted()
    }
    let metadata = DatasetMetadata(categories: names.enumerated().map { .init(id: $0.offset, name: $0.element) })
    var labelOfName: [String: Int] = [:]
    for (label, name) in names.enumerated() { labelOfName[name] = label }

    var records: [DatasetRecord] = []
    var seenFiles = Set<String>()
    for (index, node) in imageNodes.enumerated() {
      let fileName = try node.member("file").string()
      let width = try node.member("width").int()
      let height = try node.member("height").int()
      let recordName = "image \(index) (\(fileName))"
      guard seenFiles.insert(fileName).inserted else {
        checks.report(.duplicateImageId, record: recordName, detail: "'\(fileName)' is listed again; the first is kept")
        continue
      }
      guard width > 0, height > 0 else {
        checks.report(.invalidRecord, record: recordName, detail: "size \(width)x\(height)")
        continue
      }
      var record = DatasetRecord(imageId: index, fileName: fileName, width: width, height: height)
      for (k, instance) in (try node.optionalMember("instances")?.array() ?? []).enumerated() {
        let coordinates = try instance.member("box").doubles(count: 4)
        let name = try instance.member("category").string()
        let isCrowd = try instance.optionalMember("crowd")?.bool() ?? false
        let polygons = try instance.optionalMember("polygon")?.array().map { try $0.doubles() }
        let instanceName = "\(recordName) instance \(k)"
        guard let label = labelOfName[name] else {
          checks.report(.unknownCategory, record: instanceName, detail: "category '\(name)' is not in 'categories'")
          continue
        }
        let raw = Box(x1: Float(coordinates[0]), y1: Float(coordinates[1]), x2: Float(coordinates[2]), y2: Float(coordinates[3]))
        guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: instanceName) else { continue }
        if let polygons, !checks.checkPolygons(polygons, imageWidth: width, imageHeight: height, record: instanceName) {
          continue
        }
        let segmentation = polygons.flatMap { $0.isEmpty ? nil : Segmentation.polygons($0) }
        record.instances.append(AnnotationInstance(box: box, label: label, isCrowd: isCrowd, segmentation: segmentation))
      }
      records.append(record)
    }
    let issues = try checks.finish()
    return Dataset(records: records, metadata: metadata, imageSource: imageSource, annotationFile: file, issues: issues)
  }
}
