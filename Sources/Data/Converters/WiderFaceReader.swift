import Foundation

/// Reads WIDER FACE's box lists, `wider_face_split/wider_face_{train,val}_bbx_gt.txt`: for each
/// image a line with its path (relative to `WIDER_{train,val}/images/`), a line with the number of
/// faces, then one line per face:
///
///     x1 y1 w h blur expression illumination invalid occlusion pose
///
/// An image with no faces still lists one all-zero line after its count of 0; it is read and
/// skipped. Image sizes come from the image headers (the list does not carry them).
///
/// - One class, `face` (file category id 1).
/// - `invalid` faces become ignore (crowd) boxes; faces with zero width or height are reported
///   and left out.
/// - `blur`, `expression`, `illumination`, `occlusion` and `pose` are not kept: the record type
///   has no per-instance attributes.
public enum WiderFaceReader {
  public static let metadata = DatasetMetadata(categories: [.init(id: 1, name: "face")])

  /// One image's entry in the list: where its lines are.
  struct Entry {
    var fileName: String
    /// 0-based index of the file name line.
    var line: Int
    var faceCount: Int
  }

  /// The box list and image folder of the dataset's folder (holding `wider_face_split/` and
  /// `WIDER_<split>/images/`) for `split` (nil: `train`), or of a `wider_face_<split>_bbx_gt.txt`
  /// file in `wider_face_split/`.
  public static func files(at url: URL, split: String?) throws -> SplitFiles {
    try SplitFiles.locate(
      url, split: split, file: { "wider_face_split/wider_face_\($0)_bbx_gt.txt" }, images: { "WIDER_\($0)/images" },
      imagesBesideFile: { file in
        let name = file.lastPathComponent
        guard name.hasPrefix("wider_face_"), name.hasSuffix("_bbx_gt.txt") else { return nil }
        let split = name.dropFirst("wider_face_".count).dropLast("_bbx_gt.txt".count)
        return file.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("WIDER_\(split)/images")
      })
  }

  /// Reads a box list; `images` is the folder the listed paths are relative to.
  public static func read(annotations url: URL, images: URL, policy: BadDataPolicy = .skip, threadCount: Int = 4) throws -> Dataset {
    let file = try TextLines(contentsOf: url)
    let entries = try self.entries(file)
    var checks = AnnotationChecks(file: url.path, policy: policy)
    var seen = Set<String>()
    var kept: [Entry] = []
    for entry in entries {
      if seen.insert(entry.fileName).inserted {
        kept.append(entry)
      } else {
        checks.report(.duplicateImageId, record: "line \(entry.line + 1)", detail: "\(entry.fileName) is listed again; the first is kept")
      }
    }
    let recordNames = kept.indices.map { "image \($0) (\(kept[$0].fileName))" }
    let (sizes, imageIssues) = ImageSizes.measure(kept.map { images.appendingPathComponent($0.fileName) }, records: recordNames, threadCount: threadCount)
    var records: [DatasetRecord] = []
    for (index, entry) in kept.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      var record = DatasetRecord(imageId: index, fileName: entry.fileName, width: width, height: height)
      for row in 0..<entry.faceCount {
        let lineIndex = entry.line + 2 + row
        let where_ = "line \(lineIndex + 1) (\(entry.fileName))"
        let fields = TextLines.fields(file.lines[lineIndex])
        let values = fields.map { Int($0) }
        guard fields.count == 10, values.allSatisfy({ $0 != nil }) else {
          checks.report(.invalidRecord, record: where_, detail: "expected 10 integers (x1 y1 w h blur expression illumination invalid occlusion pose), found '\(file.lines[lineIndex])'")
          continue
        }
        let v = values.map { $0 ?? 0 }
        let raw = Box(x: Float(v[0]), y: Float(v[1]), width: Float(v[2]), height: Float(v[3]))
        guard let box = checks.checkedBox(raw, imageWidth: width, imageHeight: height, record: where_) else { continue }
        record.instances.append(AnnotationInstance(box: box, label: 0, isCrowd: v[7] != 0))
      }
      records.append(record)
    }
    let issues = checks.issues + imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(images), annotationFile: url.path, issues: issues)
  }

  /// The list's structure: file name, count, rows. A count that is not a number, or a file that
  /// ends inside an image's rows, makes the rest unreadable and is an error naming the line.
  static func entries(_ file: TextLines) throws -> [Entry] {
    var entries: [Entry] = []
    var lines = file.lines[...]
    while let last = lines.last, TextLines.isBlank(last) { lines.removeLast() }
    var i = 0
    while i < lines.count {
      if TextLines.isBlank(lines[i]) {
        i += 1
        continue
      }
      let name = lines[i].trimmingCharacters(in: .whitespaces)
      guard !name.contains(" ") else {
        throw DatasetFormatError(file: file.file, location: "line \(i + 1)", message: "expected an image path, found '\(lines[i])'")
      }
      let countLine = i + 1
      guard countLine < lines.count, let count = Int(lines[countLine].trimmingCharacters(in: .whitespaces)), count >= 0 else {
        let found = countLine < lines.count ? "'\(lines[countLine])'" : "the end of the file"
        throw DatasetFormatError(file: file.file, location: "line \(countLine + 1)", message: "expected the number of faces in \(name), found \(found)")
      }
      // An image without faces lists one all-zero row all the same.
      let rows = max(count, 1)
      guard rows < lines.count - countLine else {
        throw DatasetFormatError(file: file.file, location: "line \(countLine + 1)", message: "\(name) has \(count) faces but the file ends after \(lines.count - countLine - 1) of them")
      }
      if count == 0 {
        let row = TextLines.fields(lines[countLine + 1])
        guard !row.isEmpty, row.allSatisfy({ Int($0) == 0 }) else {
          throw DatasetFormatError(file: file.file, location: "line \(countLine + 2)", message: "an image with 0 faces is followed by one all-zero row, found '\(lines[countLine + 1])'")
        }
      }
      entries.append(Entry(fileName: name, line: i, faceCount: count))
      i = countLine + 1 + rows
    }
    return entries
  }
}
