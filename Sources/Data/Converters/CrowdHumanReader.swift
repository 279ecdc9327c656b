import Foundation

/// Reads CrowdHuman's `annotation_{train,val}.odgt`: one JSON object per line,
///
///     {"ID": "273271,c9db000d5146c15", "gtboxes": [{"tag": "person", "fbox": [x, y, w, h],
///      "vbox": [...], "hbox": [...], "extra": {"ignore": 0, ...}, "head_attr": {"ignore": 0, ...}}]}
///
/// with images at `Images/<ID>.jpg`, whose sizes come from the image headers.
///
/// - One class, `person` (file category id 1), from the box kind chosen: the full body (`fbox`,
///   the default), the visible region (`vbox`) or the head (`hbox`).
/// - `tag: mask` boxes (crowds, reflections, posters) and boxes with `extra.ignore` set become
///   ignore (crowd) regions; for head boxes, so do those with `head_attr.ignore` set. These are
///   the rules of the official evaluation toolkit's `load_gt`.
/// - Boxes are clipped to the image as the toolkit clips them (`x1` to `[0, width - 1]`, `x2` to
///   `[0, width]`, the same for `y`); full boxes of occluded people often reach outside the image,
///   so this is not reported. A box lying wholly outside the image is reported and left out.
public enum CrowdHumanReader {
  /// Which of the three boxes of each person to read.
  public enum BoxKind: String, Sendable, Codable, CaseIterable {
    case full = "fbox"
    case visible = "vbox"
    case head = "hbox"
  }

  public static let metadata = DatasetMetadata(categories: [.init(id: 1, name: "person")])

  /// One line's image and boxes before the image size is known.
  struct Entry {
    var id: String
    var line: Int
    var boxes: [(box: [Double], ignore: Bool, index: Int)]
  }

  /// The `.odgt` file and image folder of the dataset's folder (holding `annotation_<split>.odgt`
  /// and `Images/`) for `split` (nil: `train`), or of an `.odgt` file beside `Images/`.
  public static func files(at url: URL, split: String?) throws -> SplitFiles {
    try SplitFiles.locate(
      url, split: split, file: { "annotation_\($0).odgt" }, images: { _ in "Images" },
      imagesBesideFile: { $0.deletingLastPathComponent().appendingPathComponent("Images") })
  }

  /// Reads an `.odgt` file; `images` is the folder holding `<ID>.jpg`.
  public static func read(
    annotations url: URL, images: URL, box kind: BoxKind = .full, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    let file = try TextLines(contentsOf: url)
    var checks = AnnotationChecks(file: url.path, policy: policy)
    var entries: [Entry] = []
    var seen = Set<String>()
    for (offset, line) in file.lines.enumerated() where !TextLines.isBlank(line) {
      guard let entry = self.entry(line, line: offset + 1, kind: kind, file: url.path, checks: &checks) else { continue }
      guard seen.insert(entry.id).inserted else {
        checks.report(.duplicateImageId, record: "line \(offset + 1)", detail: "ID \(entry.id) appears again; the first is kept")
        continue
      }
      entries.append(entry)
    }
    let fileNames = entries.map { "\($0.id).jpg" }
    let recordNames = fileNames.indices.map { "image \($0) (\(fileNames[$0]))" }
    let (sizes, imageIssues) = ImageSizes.measure(fileNames.map { images.appendingPathComponent($0) }, records: recordNames, threadCount: threadCount)
    var records: [DatasetRecord] = []
    for (index, entry) in entries.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      var record = DatasetRecord(imageId: index, fileName: fileNames[index], width: width, height: height)
      for item in entry.boxes {
        let where_ = "line \(entry.line) (\(entry.id)) gtboxes[\(item.index)]"
        guard let box = clipped(item.box, width: width, height: height, record: where_, checks: &checks) else { continue }
        record.instances.append(AnnotationInstance(box: box, label: 0, isCrowd: item.ignore))
      }
      records.append(record)
    }
    let issues = checks.issues + imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(images), annotationFile: url.path, issues: issues)
  }

  /// One line's ID and boxes of the kind wanted, or nil (reported) when the line cannot be read;
  /// a bad box is reported and left out.
  static func entry(_ text: Substring, line: Int, kind: BoxKind, file: String, checks: inout AnnotationChecks) -> Entry? {
    let record = "line \(line)"
    let root: JSONNode
    let id: String
    let boxes: [JSONNode]
    do {
      root = try JSONNode.parse(Data(text.utf8), file: file)
      id = try root.member("ID").string()
      boxes = try root.optionalMember("gtboxes")?.array() ?? []
    } catch let error as DatasetFormatError {
      checks.report(.invalidRecord, record: record, detail: error.location.isEmpty ? error.message : "\(error.location): \(error.message)")
      return nil
    } catch {
      checks.report(.invalidRecord, record: record, detail: "\(error)")
      return nil
    }
    guard !id.isEmpty, !id.contains("/") else {
      checks.report(.invalidRecord, record: record, detail: "ID '\(id)' is not an image name")
      return nil
    }
    var entry = Entry(id: id, line: line, boxes: [])
    for (index, node) in boxes.enumerated() {
      do {
        let tag = try node.member("tag").string()
        guard tag == "person" || tag == "mask" else {
          checks.report(.unknownCategory, record: "\(record) (\(id)) gtboxes[\(index)]", detail: "tag '\(tag)' (expected person or mask)")
          continue
        }
        let box = try node.member(kind.rawValue).doubles(count: 4)
        var ignore = tag == "mask"
        if let flag = try node.optionalMember("extra")?.optionalMember("ignore") { ignore = try ignore || flag.int() != 0 }
        if kind == .head, let flag = try node.optionalMember("head_attr")?.optionalMember("ignore") { ignore = try ignore || flag.int() != 0 }
        entry.boxes.append((box, ignore, index))
      } catch let error as DatasetFormatError {
        checks.report(.invalidRecord, record: "\(record) (\(id))", detail: "\(error.location): \(error.message)")
      } catch {
        checks.report(.invalidRecord, record: "\(record) (\(id))", detail: "\(error)")
      }
    }
    return entry
  }

  /// `[x, y, w, h]` as a box clipped as the official toolkit clips it, or nil (reported) for an
  /// empty box or one wholly outside the image.
  static func clipped(_ xywh: [Double], width: Int, height: Int, record: String, checks: inout AnnotationChecks) -> Box? {
    let (x1, y1, x2, y2) = (xywh[0], xywh[1], xywh[0] + xywh[2], xywh[1] + xywh[3])
    let (w, h) = (Double(width), Double(height))
    guard xywh[2] > 0, xywh[3] > 0 else {
      checks.report(.degenerateBox, record: record, detail: "box [\(xywh.map { "\($0)" }.joined(separator: ", "))] (x, y, w, h) is empty")
      return nil
    }
    guard x1 < w, y1 < h, x2 > 0, y2 > 0 else {
      checks.report(.boxOutsideImage, record: record, detail: "box [\(xywh.map { "\($0)" }.joined(separator: ", "))] (x, y, w, h) lies wholly outside the \(width)x\(height) image")
      return nil
    }
    let box = Box(
      x1: Float(min(max(x1, 0), w - 1)), y1: Float(min(max(y1, 0), h - 1)),
      x2: Float(max(min(x2, w), 0)), y2: Float(max(min(y2, h), 0)))
    guard box.isNonDegenerate() else {
      checks.report(.degenerateBox, record: record, detail: "box [\(xywh.map { "\($0)" }.joined(separator: ", "))] (x, y, w, h) is empty once clipped to the image")
      return nil
    }
    return box
  }
}
