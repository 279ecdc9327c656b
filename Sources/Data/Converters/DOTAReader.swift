import Foundation

/// Reads DOTA's labels: one text file per image under `labelTxt/`, with optional header lines
///
///     imagesource:GoogleEarth
///     gsd:0.146343590398
///
/// then one object per line, its oriented box as four corners, its class and a difficult flag:
///
///     x1 y1 x2 y2 x3 y3 x4 y4 class difficult
///
/// Images are `images/<same name>.png` (or `.jpg`); their sizes come from the image headers.
///
/// - Classes: DOTA v1.0's 15 (the default), v1.5's 16 (`container-crane`) or v2.0's 18 (`airport`,
///   `helipad`), in DOTA_devkit's order, file category ids 1, 2, ….
/// - The box is the axis-aligned hull of the four corners (DOTA_devkit's `dots4ToRec4`); the
///   corners themselves are kept as the instance's polygon, so the orientation is not lost.
/// - `difficult` other than 0 makes an ignore (crowd) region, as DOTA's evaluation ignores
///   difficult objects; a line without the flag (9 fields) is not difficult, as in the devkit.
///   Flag 2 is what DOTA_devkit's `ImgSplit` writes for the small remains of cut objects.
/// - `imagesource` and `gsd` (ground sample distance, metres per pixel; `null` in some files) are
///   kept as image attributes.
/// - Lines the devkit passes over silently are reported: fewer or more than 9 or 10 fields, a
///   coordinate that is not a number, a flag other than 0, 1 or 2, a class outside the version,
///   corners that enclose no area.
public enum DOTAReader {
  /// Which release's class list to read with.
  public enum Version: String, Sendable, Codable, CaseIterable {
    case v1_0 = "1.0"
    case v1_5 = "1.5"
    case v2_0 = "2.0"

    /// Reads `"1.5"` and, since YAML writes versions bare, `1.5` too.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      let text: String
      if let number = try? container.decode(Double.self) {
        text = String(format: "%.1f", number)
      } else {
        text = try container.decode(String.self)
      }
      guard let version = Version(rawValue: text) else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a DOTA version (1.0, 1.5 or 2.0)")
      }
      self = version
    }

    /// The classes in DOTA_devkit's order.
    public var classNames: [String] {
      let v1 = [
        "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle", "ship", "tennis-court",
        "basketball-court", "storage-tank", "soccer-ball-field", "roundabout", "harbor", "swimming-pool", "helicopter",
      ]
      switch self {
      case .v1_0: return v1
      case .v1_5: return v1 + ["container-crane"]
      case .v2_0: return v1 + ["container-crane", "airport", "helipad"]
      }
    }

    /// The classes with file category ids 1, 2, … in order.
    public var metadata: DatasetMetadata {
      DatasetMetadata(categories: classNames.enumerated().map { .init(id: $0.offset + 1, name: $0.element) })
    }
  }

  /// The folder holding `labelTxt/` and `images/`: `root` itself, or `root/<split>` (DOTA's
  /// `train/` and `val/` halves).
  public static func folder(root: URL, split: String?) throws -> URL {
    let candidates = [root] + (split.map { [root.appendingPathComponent($0)] } ?? [root.appendingPathComponent("train")])
    for candidate in candidates {
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("labelTxt").path, isDirectory: &isFolder), isFolder.boolValue {
        return candidate
      }
    }
    throw DatasetFormatError(file: root.path, message: "no labelTxt folder (expected DOTA's <split>/labelTxt/*.txt beside <split>/images/)")
  }

  /// Reads a DOTA folder.
  ///
  /// - Parameters:
  ///   - root: the folder holding `labelTxt/` and `images/`, or the one holding `<split>/`.
  ///   - split: the sub-folder when `root` holds the halves (nil: `train`).
  ///   - images: the image folder (nil: `images/` beside `labelTxt/`).
  public static func read(
    root: URL, split: String? = nil, images: URL? = nil, version: Version = .v1_0, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    let folder = try folder(root: root, split: split)
    let labels = folder.appendingPathComponent("labelTxt")
    let imageFolder = images ?? folder.appendingPathComponent("images")
    let files: [String]
    do {
      files = try FileManager.default.contentsOfDirectory(atPath: labels.path)
    } catch {
      throw DatasetFormatError(file: labels.path, message: "cannot list the label files (\(error.localizedDescription))")
    }
    let names = files.filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
    let fileNames = names.map { name in
      ["png", "jpg", "jpeg"].map { "\(name).\($0)" }.first { FileManager.default.fileExists(atPath: imageFolder.appendingPathComponent($0).path) }
        ?? "\(name).png"
    }
    let recordNames = fileNames.enumerated().map { "image \($0.offset) (\($0.element))" }
    let (sizes, imageIssues) = ImageSizes.measure(fileNames.map { imageFolder.appendingPathComponent($0) }, records: recordNames, threadCount: threadCount)
    let metadata = version.metadata
    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, name) in names.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      let url = labels.appendingPathComponent("\(name).txt")
      var checks = AnnotationChecks(file: url.path, policy: policy)
      var record = DatasetRecord(imageId: index, fileName: fileNames[index], width: width, height: height)
      (record.instances, record.attributes) = try objects(
        in: TextLines(contentsOf: url), version: version, metadata: metadata, width: width, height: height, checks: &checks)
      records.append(record)
      issues += checks.issues
    }
    issues += imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(imageFolder), annotationFile: labels.path, issues: issues)
  }

  /// The objects and header attributes of one label file; bad lines are reported and left out.
  static func objects(
    in file: TextLines, version: Version, metadata: DatasetMetadata, width: Int, height: Int, checks: inout AnnotationChecks
  ) -> (instances: [AnnotationInstance], attributes: Attributes) {
    var instances: [AnnotationInstance] = []
    var attributes: Attributes = [:]
    var inHeader = true
    for (offset, line) in file.lines.enumerated() where !TextLines.isBlank(line) {
      let record = "line \(offset + 1)"
      let fields = TextLines.fields(line)
      if inHeader, fields.count == 1, let colon = fields[0].firstIndex(of: ":") {
        let key = String(fields[0][..<colon])
        let value = String(fields[0][fields[0].index(after: colon)...])
        switch key {
        case "imagesource":
          attributes["imagesource"] = .string(value)
          continue
        case "gsd":
          if let gsd = Double(value), gsd.isFinite {
            attributes["gsd"] = .number(gsd)
          } else if !["null", "None", ""].contains(value) {
            checks.report(.invalidRecord, record: record, detail: "gsd '\(value)' is not a number")
          }
          continue
        default: break
        }
      }
      inHeader = false
      guard fields.count == 9 || fields.count == 10 else {
        checks.report(.invalidRecord, record: record, detail: "expected 8 corner coordinates, a class and a difficult flag (9 or 10 fields), found \(fields.count)")
        continue
      }
      let numbers = fields.prefix(8).map { Double($0) }
      if let bad = numbers.firstIndex(where: { !($0?.isFinite ?? false) }) {
        checks.report(.invalidRecord, record: record, detail: "field \(bad + 1) is '\(fields[bad])', expected a number")
        continue
      }
      let corners = numbers.map { $0 ?? 0 }
      guard corners.allSatisfy({ abs($0) < 1e7 }) else {
        checks.report(.invalidRecord, record: record, detail: "a corner lies more than 10^7 pixels away")
        continue
      }
      let difficult = fields.count == 10 ? Int(fields[9]) : 0
      guard let difficult, (0...2).contains(difficult) else {
        checks.report(.invalidRecord, record: record, detail: "difficult flag '\(fields[9])', expected 0 or 1 (2 in split labels)")
        continue
      }
      let name = String(fields[8])
      guard let label = metadata.label(forName: name) else {
        let later = Version.allCases.first { $0.classNames.contains(name) }
        let hint = later.map { "; it is a DOTA v\($0.rawValue) class: choose that version (--dota-version, data.dota_version)" }
          ?? " (\(version.classNames.joined(separator: ", ")))"
        checks.report(.unknownCategory, record: record, detail: "'\(name)' is not a DOTA v\(version.rawValue) class\(hint)")
        continue
      }
      guard Polygons.area(corners) > 0 else {
        checks.report(.degenerateBox, record: record, detail: "the 4 corners enclose no area")
        continue
      }
      guard let box = checks.checkedBox(Polygons.bounds(corners), imageWidth: width, imageHeight: height, record: record) else { continue }
      instances.append(AnnotationInstance(box: box, label: label, isCrowd: difficult != 0, segmentation: .polygons([corners])))
    }
    return (instances, attributes)
  }
}

/// How DOTA's large images are cut into overlapping square patches, as DOTA_devkit's `ImgSplit`
/// does: patches of `size` pixels start every `size - overlap` pixels, and the last one in each
/// direction is moved back to end at the image's edge (a side shorter than `size` gives one
/// patch of that side).
///
/// An object is kept in a patch when part of it lies inside: whole, it keeps its flag; cut, its
/// box becomes the box of the part inside (so it lies in the patch), and when that part has no
/// more than `threshold` of the object's area the object becomes an ignore region (the devkit's
/// difficult flag 2).
public struct DOTATiling: Sendable, Equatable {
  public var size: Int
  public var overlap: Int
  public var threshold: Double

  public init(size: Int = 1024, overlap: Int = 200, threshold: Double = 0.7) {
    self.size = size
    self.overlap = overlap
    self.threshold = threshold
  }

  /// Why the settings cannot cut images, or nil.
  public var problem: String? {
    if size < 1 { return "the patch size must be at least 1 pixel, not \(size)" }
    if overlap < 0 || overlap >= size { return "the overlap must be at least 0 and below the patch size (\(size)), not \(overlap)" }
    if !(threshold > 0 && threshold <= 1) { return "the threshold must be in (0, 1], not \(threshold)" }
    return nil
  }

  /// Where the patches along a side of `length` pixels start.
  public func origins(length: Int) -> [Int] {
    precondition(problem == nil, "DOTATiling: \(problem ?? "")")
    var origins: [Int] = []
    var start = 0
    while true {
      if start + size >= length {
        origins.append(max(length - size, 0))
        return origins
      }
      origins.append(start)
      start += size - overlap
    }
  }

  /// The instances of a patch `[left, left + width] x [up, up + height]` of an image, in the
  /// patch's coordinates, each with the DOTA difficult flag to write for it.
  func instances(
    of image: [AnnotationInstance], left: Int, up: Int, width: Int, height: Int
  ) -> [(instance: AnnotationInstance, difficult: Int)] {
    let (x1, y1) = (Double(left), Double(up))
    let (x2, y2) = (x1 + Double(width), y1 + Double(height))
    var kept: [(AnnotationInstance, Int)] = []
    for instance in image {
      let polygon: [Double]
      if case .polygons(let polygons)? = instance.segmentation, let first = polygons.first {
        polygon = first
      } else {
        let b = instance.box
        polygon = [b.x1, b.y1, b.x2, b.y1, b.x2, b.y2, b.x1, b.y2].map(Double.init)
      }
      let area = Polygons.area(polygon)
      let inside = Polygons.clipped(polygon, x1: x1, y1: y1, x2: x2, y2: y2)
      let insideArea = Polygons.area(inside)
      guard area > 0, insideArea > 0 else { continue }
      let whole = insideArea >= area * (1 - 1e-9)
      let part = whole ? polygon : inside
      let shifted = part.enumerated().map { $0.element - ($0.offset % 2 == 0 ? x1 : y1) }
      let box = Polygons.bounds(shifted).clipped(width: width, height: height)
      guard box.isNonDegenerate() else { continue }
      let small = !whole && insideArea <= area * threshold
      var moved = instance
      moved.box = box
      moved.segmentation = .polygons([shifted])
      moved.isCrowd = instance.isCrowd || small
      kept.append((moved, small ? 2 : instance.isCrowd ? 1 : 0))
    }
    return kept
  }
}

extension DOTAReader {
  /// Cuts each image of a dataset read by `read` into patches (`tiling`), writing DOTA_devkit's
  /// layout under `output`: `images/<name>__1__<left>___<up>.png` and the same names under
  /// `labelTxt/` (header lines copied; whole objects with their corners, cut ones with the corners
  /// of the part inside when it has 4, else of its box). The returned records are the patches, with file names relative to
  /// `output/images` and the source image and patch origin as attributes.
  public static func tile(
    _ dataset: Dataset, tiling: DOTATiling, output: URL, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    if let problem = tiling.problem { throw DatasetFormatError(file: output.path, message: "cannot cut patches: \(problem)") }
    guard case .folder(let sourceFolder) = dataset.imageSource else {
      throw DatasetFormatError(file: output.path, message: "cannot cut patches: the dataset has no image folder")
    }
    let imagesOut = output.appendingPathComponent("images")
    let labelsOut = output.appendingPathComponent("labelTxt")
    do {
      try FileManager.default.createDirectory(at: imagesOut, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(at: labelsOut, withIntermediateDirectories: true)
    } catch {
      throw DatasetFormatError(file: output.path, message: "cannot create the patch folders (\(error.localizedDescription))")
    }
    let slots = TileSlots(count: dataset.records.count)
    let classNames = dataset.metadata.classNames
    @Sendable func cutOne(_ index: Int) {
      let record = dataset.records[index]
      let url = sourceFolder.appendingPathComponent(record.fileName)
      do {
        let image = try ImageCodec.decode(contentsOf: url)
        guard image.width == record.width, image.height == record.height else {
          slots.set(index, .failure(DataIssue(.sizeMismatch, file: url.path, record: "image \(record.imageId) (\(record.fileName))",
            detail: "decoded as \(image.width)x\(image.height), the header said \(record.width)x\(record.height)")))
          return
        }
        slots.set(index, .success(try cut(record, image: image, tiling: tiling, classNames: classNames, images: imagesOut, labels: labelsOut)))
      } catch let error as ImageCodecError {
        slots.set(index, .failure(DataIssue(.corruptImage, file: url.path, record: "image \(record.imageId) (\(record.fileName))", detail: "\(error)")))
      } catch let error as DatasetFormatError {
        slots.set(index, .fatal(error))
      } catch {
        slots.set(index, .fatal(DatasetFormatError(file: url.path, message: "\(error)")))
      }
    }
    // Each worker takes every `workers`-th image: DOTA's largest images take over a gigabyte
    // decoded, so no more than `threadCount` are held at once.
    let workers = max(1, min(threadCount, dataset.records.count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      for index in stride(from: worker, to: dataset.records.count, by: workers) {
        cutOne(index)
      }
    }
    var records: [DatasetRecord] = []
    var issues = dataset.issues
    for result in slots.all {
      switch result {
      case .success(let patches):
        for var patch in patches {
          patch.imageId = records.count
          records.append(patch)
        }
      case .failure(let issue): issues.append(issue)
      case .fatal(let error): throw error
      }
    }
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: dataset.metadata, imageSource: .folder(imagesOut), annotationFile: labelsOut.path, issues: issues)
  }

  /// One image's patches, written out; their records (image ids still to be numbered).
  static func cut(
    _ record: DatasetRecord, image: Image, tiling: DOTATiling, classNames: [String], images: URL, labels: URL
  ) throws -> [DatasetRecord] {
    let stem = (record.fileName as NSString).deletingPathExtension
    var header = ""
    if case .string(let source)? = record.attributes["imagesource"] { header += "imagesource:\(source)\n" }
    if case .number(let gsd)? = record.attributes["gsd"] { header += "gsd:\(gsd)\n" }
    var patches: [DatasetRecord] = []
    for left in tiling.origins(length: record.width) {
      for up in tiling.origins(length: record.height) {
        let width = min(tiling.size, record.width - left)
        let height = min(tiling.size, record.height - up)
        let name = "\(stem)__1__\(left)___\(up)"
        let kept = tiling.instances(of: record.instances, left: left, up: up, width: width, height: height)
        var text = header
        for (instance, difficult) in kept {
          guard case .polygons(let polygons)? = instance.segmentation, let polygon = polygons.first else { continue }
          // Quadrilaterals as they are; a cut with 3 or more than 4 corners as its box's corners.
          let b = instance.box
          let corners = polygon.count == 8 ? polygon : [b.x1, b.y1, b.x2, b.y1, b.x2, b.y2, b.x1, b.y2].map(Double.init)
          text += corners.map(format).joined(separator: " ") + " \(classNames[instance.label]) \(difficult)\n"
        }
        let pixels = image.cropped(x: left, y: up, width: width, height: height)
        let imageURL = images.appendingPathComponent("\(name).png")
        let labelURL = labels.appendingPathComponent("\(name).txt")
        do {
          try ImageCodec.encodePNG(pixels).write(to: imageURL, options: .atomic)
          try Data(text.utf8).write(to: labelURL, options: .atomic)
        } catch {
          throw DatasetFormatError(file: imageURL.path, message: "cannot write the patch (\(error))")
        }
        var attributes = record.attributes
        attributes["source_image"] = .string(record.fileName)
        attributes["patch_origin"] = .numbers([Double(left), Double(up)])
        patches.append(DatasetRecord(
          imageId: 0, fileName: "\(name).png", width: width, height: height, instances: kept.map(\.instance), attributes: attributes))
      }
    }
    return patches
  }

  /// A coordinate as DOTA files write it: whole numbers without a fraction.
  static func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}

/// One image's patches, or what stopped them, written from several threads.
private final class TileSlots: @unchecked Sendable {
  enum Result {
    case success([DatasetRecord])
    case failure(DataIssue)
    case fatal(DatasetFormatError)
  }

  private let lock = NSLock()
  private var slots: [Result?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ result: Result) { lock.withLock { slots[index] = result } }
  var all: [Result] { lock.withLock { slots.map { $0 ?? .fatal(DatasetFormatError(file: "", message: "an image was not cut")) } } }
}
