import Foundation

/// Reads Cityscapes' fine annotations as polygons: `gtFine/<split>/<city>/<name>_gtFine_polygons.json`,
///
///     {"imgHeight": 1024, "imgWidth": 2048,
///      "objects": [{"label": "car", "polygon": [[x, y], ...]}, {"label": "cargroup", ...}, ...]}
///
/// with the image of each file at `leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`.
///
/// - Classes: the eight labels with instances that the instance benchmark evaluates, with their
///   label ids from cityscapesScripts' `labels.py` as file category ids (person 24, rider 25, car 26,
///   truck 27, bus 28, train 31, motorcycle 32, bicycle 33).
/// - A label ending in `group` whose stem is one of them (`cargroup`, `persongroup`) is a region
///   of several such objects that annotators could not separate: an ignore (crowd) region of that
///   class, as `json2instanceImg` draws it with the class id rather than an instance id.
/// - Objects marked `deleted`, and every other label of `labels.py` (stuff such as `road`, `out of
///   roi`, `ego vehicle`, `license plate`, the instance labels `caravan` and `trailer` that the
///   benchmark ignores, `polegroup`), are left out without a report. A label `labels.py` does not
///   know is an unknown category (`json2instanceImg` stops on it).
/// - Each polygon is kept as the instance's mask (COCO polygon). Its box covers the pixels the
///   polygon's vertices lie on: `min x, min y, max x + 1, max y + 1` (vertices are integer pixel
///   positions and the official tools fill polygons with PIL, which paints the boundary pixels).
///   Polygons are kept as drawn: later objects, drawn over earlier ones in the instance images,
///   are not cut out of them.
/// - The image size comes from `imgWidth`/`imgHeight` and is checked against the image's header.
public enum CityscapesReader {
  /// The eight instance classes in label-id order, with `labels.py`'s ids.
  public static let metadata = DatasetMetadata(
    categories: [(24, "person"), (25, "rider"), (26, "car"), (27, "truck"), (28, "bus"), (31, "train"), (32, "motorcycle"), (33, "bicycle")]
      .map { .init(id: $0.0, name: $0.1) })

  /// Every label name of `labels.py`; those not among the eight classes are left out.
  public static let labelNames: Set<String> = [
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static", "dynamic", "ground", "road", "sidewalk",
    "parking", "rail track", "building", "wall", "fence", "guard rail", "bridge", "tunnel", "pole", "polegroup",
    "traffic light", "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "caravan",
    "trailer", "train", "motorcycle", "bicycle", "license plate",
  ]

  static let annotationSuffix = "_gtFine_polygons.json"
  static let imageSuffix = "_leftImg8bit.png"

  /// The `gtFine/<split>` folder of a Cityscapes folder (the one holding `gtFine/` and
  /// `leftImg8bit/`), and the matching `leftImg8bit/<split>`.
  public static func folders(root: URL, split: String?) throws -> (labels: URL, images: URL) {
    let split = split ?? "train"
    let labels = root.appendingPathComponent("gtFine/\(split)")
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: labels.path, isDirectory: &isFolder), isFolder.boolValue else {
      throw DatasetFormatError(file: root.path, message: "no gtFine/\(split) folder (expected Cityscapes' gtFine/<split>/<city>/*\(annotationSuffix))")
    }
    return (labels, root.appendingPathComponent("leftImg8bit/\(split)"))
  }

  /// The annotation files of a split as `<city>/<name>` stems (without the suffix), sorted.
  static func stems(in labels: URL) throws -> [String] {
    let cities: [String]
    do {
      cities = try FileManager.default.contentsOfDirectory(atPath: labels.path).sorted()
    } catch {
      throw DatasetFormatError(file: labels.path, message: "cannot list the city folders (\(error.localizedDescription))")
    }
    var stems: [String] = []
    for city in cities {
      let folder = labels.appendingPathComponent(city)
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else { continue }
      let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
      stems += files.filter { $0.hasSuffix(annotationSuffix) }.sorted().map { "\(city)/\($0.dropLast(annotationSuffix.count))" }
    }
    return stems
  }

  /// Reads a split.
  ///
  /// - Parameters:
  ///   - root: the Cityscapes folder, holding `gtFine/` and `leftImg8bit/`.
  ///   - split: `train`, `val` or `test` (nil: `train`).
  ///   - images: the folder image names are relative to (nil: `leftImg8bit/<split>`).
  public static func read(
    root: URL, split: String? = nil, images: URL? = nil, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    let (labels, defaultImages) = try folders(root: root, split: split)
    let imageFolder = images ?? defaultImages
    let stems = try stems(in: labels)
    let fileNames = stems.map { "\($0)\(imageSuffix)" }
    let recordNames = fileNames.enumerated().map { "image \($0.offset) (\($0.element))" }
    let (sizes, imageIssues) = ImageSizes.measure(fileNames.map { imageFolder.appendingPathComponent($0) }, records: recordNames, threadCount: threadCount)
    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, stem) in stems.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      let url = labels.appendingPathComponent("\(stem)\(annotationSuffix)")
      var checks = AnnotationChecks(file: url.path, policy: policy)
      if let record = self.record(url, imageId: index, fileName: fileNames[index], imageSize: (width, height), checks: &checks) {
        records.append(record)
      }
      issues += checks.issues
    }
    issues += imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(imageFolder), annotationFile: labels.path, issues: issues)
  }

  /// One annotation file's record, or nil (reported) when the file cannot be read or does not
  /// fit its image; objects that cannot be used are reported and left out.
  static func record(
    _ url: URL, imageId: Int, fileName: String, imageSize: (width: Int, height: Int), checks: inout AnnotationChecks
  ) -> DatasetRecord? {
    let root: JSONNode
    let width: Int
    let height: Int
    let objects: [JSONNode]
    do {
      root = try JSONNode.parse(readAnnotationFile(url), file: url.path)
      width = try root.member("imgWidth").int()
      height = try root.member("imgHeight").int()
      objects = try root.member("objects").array()
    } catch let error as DatasetFormatError {
      checks.report(.invalidRecord, record: error.location.isEmpty ? "file" : error.location, detail: error.message)
      return nil
    } catch {
      checks.report(.invalidRecord, record: "file", detail: "\(error)")
      return nil
    }
    guard width == imageSize.width, height == imageSize.height else {
      checks.report(
        .sizeMismatch, record: "image \(imageId) (\(fileName))",
        detail: "imgWidth x imgHeight is \(width)x\(height), the image is \(imageSize.width)x\(imageSize.height)")
      return nil
    }
    var record = DatasetRecord(imageId: imageId, fileName: fileName, width: width, height: height)
    for (index, node) in objects.enumerated() {
      let where_ = "objects[\(index)]"
      do {
        if let deleted = try node.optionalMember("deleted"), try deleted.bool() { continue }
        let name = try node.member("label").string()
        let stem = name.hasSuffix("group") ? String(name.dropLast("group".count)) : nil
        let label: Int
        let isGroup: Bool
        if let known = metadata.label(forName: name) {
          (label, isGroup) = (known, false)
        } else if let stem, let known = metadata.label(forName: stem) {
          (label, isGroup) = (known, true)
        } else if labelNames.contains(name) || stem.map(labelNames.contains) == true {
          continue
        } else {
          checks.report(.unknownCategory, record: where_, detail: "label '\(name)' is not a Cityscapes label (cityscapesScripts' labels.py)")
          continue
        }
        let points = try node.member("polygon").array().map { try $0.doubles(count: 2) }
        guard points.count >= 3 else {
          checks.report(.invalidRecord, record: where_, detail: "'\(name)' polygon has \(points.count) points (needs at least 3)")
          continue
        }
        guard points.allSatisfy({ $0[0].isFinite && $0[1].isFinite && abs($0[0]) < 1e7 && abs($0[1]) < 1e7 }) else {
          checks.report(.invalidRecord, record: where_, detail: "'\(name)' polygon has a coordinate that is not a finite pixel position")
          continue
        }
        let xs = points.map { $0[0] }
        let ys = points.map { $0[1] }
        let raw = Box(
          x1: Float(xs.min() ?? 0), y1: Float(ys.min() ?? 0), x2: Float((xs.max() ?? 0) + 1), y2: Float((ys.max() ?? 0) + 1))
        guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: "\(where_) ('\(name)')") else { continue }
        record.instances.append(
          AnnotationInstance(box: box, label: label, isCrowd: isGroup, segmentation: .polygons([points.flatMap { $0 }])))
      } catch let error as DatasetFormatError {
        checks.report(.invalidRecord, record: error.location.isEmpty ? where_ : error.location, detail: error.message)
      } catch {
        checks.report(.invalidRecord, record: where_, detail: "\(error)")
      }
    }
    return record
  }
}
