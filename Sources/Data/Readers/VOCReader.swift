import Foundation

/// Reads Pascal VOC annotations: one XML file per image under `Annotations/`, images under
/// `JPEGImages/`, and an image-set list (`ImageSets/Main/trainval.txt`) naming which to use.
///
/// VOC pixel coordinates are 1-based and inclusive; like detectron2, `xmin - 1, ymin - 1, xmax,
/// ymax` gives SimpleDet's `x1, y1, x2, y2`.
public enum VOCReader {
  /// The 20 Pascal VOC classes in their customary order (labels 0...19).
  public static let pascalClasses = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
  ]

  /// Reads a VOC-layout folder (`root/Annotations`, `root/JPEGImages`, `root/ImageSets/Main`).
  ///
  /// - Parameters:
  ///   - imageSet: the list's name (`train`, `val`, `trainval`, `test`), or nil for every XML file.
  ///   - classes: the class list; objects of other classes are reported as unknown categories.
  public static func read(
    root: URL, imageSet: String? = "trainval", classes: [String] = pascalClasses, policy: BadDataPolicy = .skip
  ) throws -> Dataset {
    let annotations = root.appendingPathComponent("Annotations")
    let names: [String]
    if let imageSet {
      let list = root.appendingPathComponent("ImageSets/Main/\(imageSet).txt")
      guard let text = try? String(contentsOf: list, encoding: .utf8) else {
        throw DatasetFormatError(file: list.path, message: "cannot read the image-set list")
      }
      names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    } else {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: annotations.path)) ?? []
      names = files.filter { $0.hasSuffix(".xml") }.map { String($0.dropLast(4)) }.sorted()
    }
    let files = names.map { annotations.appendingPathComponent("\($0).xml") }
    return try read(annotationFiles: files, images: root.appendingPathComponent("JPEGImages"), classes: classes, policy: policy)
  }

  /// Reads the given annotation files; `images` is the folder their `<filename>`s are in.
  public static func read(
    annotationFiles: [URL], images: URL, classes: [String] = pascalClasses, policy: BadDataPolicy = .skip
  ) throws -> Dataset {
    let metadata = DatasetMetadata(categories: classes.enumerated().map { .init(id: $0.offset, name: $0.element) })
    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, url) in annotationFiles.enumerated() {
      let data = try readAnnotationFile(url)
      var checks = AnnotationChecks(file: url.path, policy: policy)
      if let record = try read(data, file: url.path, imageId: index, metadata: metadata, checks: &checks) {
        records.append(record)
      }
      issues += checks.issues
    }
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(images), issues: issues)
  }

  /// Reads one annotation document held in memory.
  static func read(
    _ data: Data, file: String, imageId: Int, metadata: DatasetMetadata, checks: inout AnnotationChecks
  ) throws -> DatasetRecord? {
    let root = try XMLElement.parse(data, file: file)
    guard root.name == "annotation" else {
      throw DatasetFormatError(file: file, message: "the root element is <\(root.name)>, expected <annotation>")
    }
    guard let fileName = root.child("filename")?.trimmedText, !fileName.isEmpty else {
      throw DatasetFormatError(file: file, location: "annotation", message: "missing <filename>")
    }
    let size = try element(root, "size", file: file)
    let width = try integer(size, "width", file: file)
    let height = try integer(size, "height", file: file)
    var record = DatasetRecord(imageId: imageId, fileName: fileName, width: width, height: height)
    for (index, object) in root.children("object").enumerated() {
      let where_ = "object \(index) (\(fileName))"
      guard let name = object.child("name")?.trimmedText, !name.isEmpty else {
        throw DatasetFormatError(file: file, location: "object \(index)", message: "missing <name>")
      }
      let box = try element(object, "bndbox", file: file)
      let xmin = try number(box, "xmin", file: file)
      let ymin = try number(box, "ymin", file: file)
      let xmax = try number(box, "xmax", file: file)
      let ymax = try number(box, "ymax", file: file)
      let difficult = object.child("difficult").map { $0.trimmedText == "1" } ?? false
      guard let label = metadata.label(forName: name) else {
        checks.report(.unknownCategory, record: where_, detail: "class '\(name)' is not in the class list")
        continue
      }
      let raw = Box(x1: Float(xmin - 1), y1: Float(ymin - 1), x2: Float(xmax), y2: Float(ymax))
      guard let clean = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: where_) else { continue }
      record.instances.append(AnnotationInstance(box: clean, label: label, isDifficult: difficult))
    }
    return record
  }

  private static func element(_ parent: XMLElement, _ name: String, file: String) throws -> XMLElement {
    guard let child = parent.child(name) else {
      throw DatasetFormatError(file: file, location: parent.name, message: "missing <\(name)>")
    }
    return child
  }

  private static func number(_ parent: XMLElement, _ name: String, file: String) throws -> Double {
    let text = try element(parent, name, file: file).trimmedText
    guard let value = Double(text), value.isFinite else {
      throw DatasetFormatError(file: file, location: "\(parent.name).\(name)", message: "expected a number, found '\(text)'")
    }
    return value
  }

  private static func integer(_ parent: XMLElement, _ name: String, file: String) throws -> Int {
    let value = try number(parent, name, file: file)
    // Past 2^53 a double no longer holds every integer, and `Int(_:)` traps beyond Int (a
    // `<width>1e300</width>` crashed the VOC fuzz harness).
    guard value == value.rounded(), abs(value) < 9.0e15 else {
      throw DatasetFormatError(file: file, location: "\(parent.name).\(name)", message: "expected an integer, found \(value)")
    }
    return Int(value)
  }
}
