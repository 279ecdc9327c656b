import Foundation

/// Reads KITTI's object benchmark labels: one text file per image under `label_2/`, one object
/// per line with 15 space-separated fields (a 16th, the score, in results files):
///
///     type truncated occluded alpha left top right bottom height width length x y z rotation_y
///
/// `left top right bottom` is the 2D box in 0-based pixels and is used as `x1 y1 x2 y2` as it is.
/// Images are `image_2/<same name>.png`; their sizes come from the image headers, since the labels
/// do not carry them.
///
/// - `DontCare` regions become ignore (crowd) boxes, one per class, since they apply to every class.
/// - Types are mapped to classes by a `KITTIClassMap` (default: all eight types as classes); types
///   it leaves out are dropped.
/// - An object outside KITTI's "moderate" difficulty (box height below 25 pixels, occlusion level 2
///   or more, or truncation above 0.3) is marked `isDifficult`, so that difficulty-aware evaluation
///   and statistics can tell them apart; the truncation and occlusion values themselves, the 3D
///   fields and the score are not kept.
public enum KITTIReader {
  /// KITTI's moderate level: the smallest box height counted, in pixels.
  public static let moderateMinimumHeight: Float = 25
  /// KITTI's moderate level: the largest occlusion level counted (1, partly occluded).
  public static let moderateMaximumOcclusion = 1
  /// KITTI's moderate level: the largest truncation counted.
  public static let moderateMaximumTruncation = 0.3

  /// Reads a KITTI object folder.
  ///
  /// - Parameters:
  ///   - root: the folder holding `label_2/` (KITTI's `training/`), or the one holding `training/`.
  ///   - images: the image folder (nil: `image_2/` beside `label_2/`).
  ///   - imageSet: nil for every label file, or a list of image ids (one per line, e.g. `000042`):
  ///     a path to the list, or a name found as `ImageSets/<name>.txt` in or above `root` (the
  ///     layout of the common train/val split of 3712/3769 images).
  public static func read(
    root: URL, images: URL? = nil, imageSet: String? = nil, classes: KITTIClassMap = .all, policy: BadDataPolicy = .skip,
    threadCount: Int = 4
  ) throws -> Dataset {
    let labels = try labelFolder(root)
    let imageFolder = images ?? labels.deletingLastPathComponent().appendingPathComponent("image_2")
    let names = try labelNames(labels: labels, root: root, imageSet: imageSet)
    let (ids, fileNames, _, sizes, imageIssues) = ImageSizes.measurePNGs(
      named: names, in: imageFolder, threadCount: threadCount)

    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, name) in names.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      let url = labels.appendingPathComponent("\(name).txt")
      var checks = AnnotationChecks(file: url.path, policy: policy)
      var record = DatasetRecord(imageId: ids[index], fileName: fileNames[index], width: width, height: height)
      record.instances = try instances(in: TextLines(contentsOf: url), classes: classes, width: width, height: height, checks: &checks)
      records.append(record)
      issues += checks.issues
    }
    issues += imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: classes.metadata, imageSource: .folder(imageFolder), annotationFile: labels.path, issues: issues)
  }

  /// The objects of one label file; bad lines are reported to `checks` and left out.
  static func instances(
    in file: TextLines, classes: KITTIClassMap, width: Int, height: Int, checks: inout AnnotationChecks
  ) -> [AnnotationInstance] {
    var instances: [AnnotationInstance] = []
    for (offset, line) in file.lines.enumerated() where !TextLines.isBlank(line) {
      let record = "line \(offset + 1)"
      let fields = TextLines.fields(line)
      guard fields.count == 15 || fields.count == 16 else {
        checks.report(.invalidRecord, record: record, detail: "expected 15 fields (16 with a score), found \(fields.count)")
        continue
      }
      let type = String(fields[0])
      let numbers = fields.dropFirst().map { Double($0) }
      if let bad = numbers.firstIndex(where: { !($0?.isFinite ?? false) }) {
        checks.report(.invalidRecord, record: record, detail: "field \(bad + 2) is '\(fields[bad + 1])', expected a number")
        continue
      }
      let values = numbers.map { $0 ?? 0 }
      guard KITTIClassMap.isKnownType(type) else {
        checks.report(.unknownCategory, record: record, detail: "'\(type)' is not a KITTI object type (\(KITTIClassMap.objectTypes.joined(separator: ", ")) or DontCare)")
        continue
      }
      let (truncated, occluded) = (values[0], values[1])
      guard occluded == occluded.rounded(), (-1...3).contains(occluded) else {
        checks.report(.invalidRecord, record: record, detail: "occlusion level \(occluded), expected 0, 1, 2 or 3")
        continue
      }
      let raw = Box(x1: Float(values[3]), y1: Float(values[4]), x2: Float(values[5]), y2: Float(values[6]))
      if type == KITTIClassMap.dontCare {
        guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: record) else { continue }
        for label in classes.classNames.indices { instances.append(AnnotationInstance(box: box, label: label, isCrowd: true)) }
        continue
      }
      guard let label = classes.label(ofType: type) else { continue }
      guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: record) else { continue }
      let difficult = raw.height < moderateMinimumHeight || Int(occluded) > moderateMaximumOcclusion || truncated > moderateMaximumTruncation
      instances.append(AnnotationInstance(box: box, label: label, isDifficult: difficult))
    }
    return instances
  }

  private static func isFile(_ url: URL) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && !isFolder.boolValue
  }

  /// `root/label_2`, or `root/training/label_2`.
  static func labelFolder(_ root: URL) throws -> URL {
    for candidate in [root.appendingPathComponent("label_2"), root.appendingPathComponent("training/label_2")] {
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isFolder), isFolder.boolValue { return candidate }
    }
    throw DatasetFormatError(file: root.path, message: "no label_2 folder (expected KITTI's training/label_2/*.txt)")
  }

  /// The label file names (without `.txt`) to read, sorted, or those the image set lists in order.
  static func labelNames(labels: URL, root: URL, imageSet: String?) throws -> [String] {
    guard let imageSet else {
      let files: [String]
      do {
        files = try FileManager.default.contentsOfDirectory(atPath: labels.path)
      } catch {
        throw DatasetFormatError(file: labels.path, message: "cannot list the label files (\(error.localizedDescription))")
      }
      return files.filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
    }
    let training = labels.deletingLastPathComponent()
    let candidates = [URL(fileURLWithPath: imageSet)] + [root, training, training.deletingLastPathComponent()].map {
      $0.appendingPathComponent("ImageSets/\(imageSet).txt")
    }
    guard let list = candidates.first(where: isFile) else {
      throw DatasetFormatError(file: imageSet, message: "no such image-set list (looked for ImageSets/\(imageSet).txt beside training/)")
    }
    let lines = try TextLines(contentsOf: list)
    var names: [String] = []
    for (offset, line) in lines.lines.enumerated() where !TextLines.isBlank(line) {
      let name = line.trimmingCharacters(in: .whitespaces)
      guard !name.contains("/"), FileManager.default.fileExists(atPath: labels.appendingPathComponent("\(name).txt").path) else {
        throw DatasetFormatError(file: list.path, location: "line \(offset + 1)", message: "no label file \(name).txt in \(labels.path)")
      }
      names.append(name)
    }
    return names
  }
}
