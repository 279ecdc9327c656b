import Foundation

/// Reads the GMU Kitchen Scenes dataset as the universal object detection benchmark (UODB, Wang
/// et al. 2019) distributes it: Pascal VOC's layout, with `Annotations/<id>.xml`,
/// `JPEGImages/<id>.png` and `ImageSets/Main/{train,test}.txt`, as that benchmark's own loader
/// (`lib/datasets/kitchen_voc.py` in frank-xwang/towards-universal-object-detection) reads it.
///
/// - Classes: the 11 grocery products of the benchmark, in its loader's order (file category ids
///   1...11). Object names are compared lower-cased and trimmed, as the loader does; a name outside
///   the 11 is reported (the loader silently makes it background).
/// - The image is `JPEGImages/<id>.png` whatever `<filename>` says (the loader builds the path
///   from the id); its size comes from its header and is checked against `<size>` when the file
///   has one.
/// - Boxes are VOC's 1-based inclusive corners: `xmin - 1, ymin - 1, xmax, ymax`, as `VOCReader`
///   reads them; `<difficult>` is kept (the loader keeps difficult objects for training, its
///   evaluation ignores them).
///
/// The dataset's original per-scene annotation files (`.mat` files of boxes per frame, with the
/// images under `gmu_scene_00N/Images/`) are not read: no description of their layout reliable
/// enough to build a reader on was found.
public enum KitchenReader {
  /// The 11 instance categories, in the benchmark loader's order.
  public static let classNames = [
    "coca_cola_glass_bottle", "coffee_mate_french_vanilla", "honey_bunches_of_oats_honey_roasted", "hunts_sauce", "mahatma_rice",
    "nature_valley_soft_baked_oatmeal_squares_cinnamon_brown_sugar", "nature_valley_sweet_and_salty_nut_almond", "palmolive_orange",
    "pop_secret_light_butter", "pringles_bbq", "red_bull",
  ]

  public static let metadata = DatasetMetadata(categories: classNames.enumerated().map { .init(id: $0.offset + 1, name: $0.element) })

  /// Reads a split.
  ///
  /// - Parameters:
  ///   - root: the folder holding `Annotations/`, `JPEGImages/` and `ImageSets/Main/`.
  ///   - split: the list under `ImageSets/Main/` (`train`, `test`; nil: `train`; `all`: every
  ///     annotation file).
  ///   - images: the image folder (nil: `JPEGImages/`).
  public static func read(
    root: URL, split: String? = nil, images: URL? = nil, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    let annotations = root.appendingPathComponent("Annotations")
    let imageFolder = images ?? root.appendingPathComponent("JPEGImages")
    let names = try self.names(root: root, annotations: annotations, split: split ?? "train")
    let (ids, fileNames, recordNames, sizes, imageIssues) = ImageSizes.measurePNGs(
      named: names, in: imageFolder, threadCount: threadCount)
    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, name) in names.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      let url = annotations.appendingPathComponent("\(name).xml")
      var checks = AnnotationChecks(file: url.path, policy: policy)
      var record = DatasetRecord(imageId: ids[index], fileName: fileNames[index], width: width, height: height)
      if let instances = self.instances(url, record: recordNames[index], width: width, height: height, checks: &checks) {
        record.instances = instances
        records.append(record)
      }
      issues += checks.issues
    }
    issues += imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(imageFolder), annotationFile: annotations.path, issues: issues)
  }

  /// The ids the split lists (each must have its annotation file), or every annotation file's.
  static func names(root: URL, annotations: URL, split: String) throws -> [String] {
    if split == "all" {
      let files: [String]
      do {
        files = try FileManager.default.contentsOfDirectory(atPath: annotations.path)
      } catch {
        throw DatasetFormatError(file: annotations.path, message: "cannot list the annotation files (expected the benchmark's Annotations/<id>.xml)")
      }
      return files.filter { $0.hasSuffix(".xml") }.map { String($0.dropLast(4)) }.sorted()
    }
    let list = root.appendingPathComponent("ImageSets/Main/\(split).txt")
    guard FileManager.default.fileExists(atPath: list.path) else {
      throw DatasetFormatError(file: list.path, message: "no such image-set list (expected the benchmark's ImageSets/Main/{train,test}.txt)")
    }
    var names: [String] = []
    for (offset, line) in try TextLines(contentsOf: list).lines.enumerated() where !TextLines.isBlank(line) {
      let name = line.trimmingCharacters(in: .whitespaces)
      guard !name.contains("/"), FileManager.default.fileExists(atPath: annotations.appendingPathComponent("\(name).xml").path) else {
        throw DatasetFormatError(file: list.path, location: "line \(offset + 1)", message: "no annotation file \(name).xml in \(annotations.path)")
      }
      names.append(name)
    }
    return names
  }

  /// One annotation file's objects, or nil (reported) when the file cannot be read or does not
  /// fit its image; objects that cannot be used are reported and left out.
  static func instances(_ url: URL, record: String, width: Int, height: Int, checks: inout AnnotationChecks) -> [AnnotationInstance]? {
    let root: XMLElement
    do {
      root = try XMLElement.parse(try readAnnotationFile(url), file: url.path)
    } catch let error as DatasetFormatError {
      checks.report(.invalidRecord, record: "file", detail: error.message)
      return nil
    } catch {
      checks.report(.invalidRecord, record: "file", detail: "\(error)")
      return nil
    }
    guard root.name == "annotation" else {
      checks.report(.invalidRecord, record: "file", detail: "the root element is <\(root.name)>, expected <annotation>")
      return nil
    }
    if let size = root.child("size"), let w = size.child("width").flatMap({ Int($0.trimmedText) }),
      let h = size.child("height").flatMap({ Int($0.trimmedText) }), w != width || h != height
    {
      checks.report(.sizeMismatch, record: record, detail: "<size> says \(w)x\(h), the image is \(width)x\(height)")
      return nil
    }
    var instances: [AnnotationInstance] = []
    for (index, object) in root.children("object").enumerated() {
      let where_ = "object \(index)"
      guard let name = object.child("name")?.trimmedText.lowercased(), !name.isEmpty else {
        checks.report(.invalidRecord, record: where_, detail: "missing <name>")
        continue
      }
      guard let label = metadata.label(forName: name) else {
        checks.report(.unknownCategory, record: where_, detail: "'\(name)' is not one of the benchmark's 11 Kitchen classes")
        continue
      }
      let corners = ["xmin", "ymin", "xmax", "ymax"].map { key in object.child("bndbox")?.child(key).flatMap { Double($0.trimmedText) } }
      guard corners.allSatisfy({ $0?.isFinite ?? false }) else {
        checks.report(.invalidRecord, record: where_, detail: "<bndbox> needs numbers in <xmin>, <ymin>, <xmax> and <ymax>")
        continue
      }
      let c = corners.map { $0 ?? 0 }
      let raw = Box(x1: Float(c[0] - 1), y1: Float(c[1] - 1), x2: Float(c[2]), y2: Float(c[3]))
      guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: where_) else { continue }
      let difficult = object.child("difficult").map { $0.trimmedText == "1" } ?? false
      instances.append(AnnotationInstance(box: box, label: label, isDifficult: difficult))
    }
    return instances
  }
}
