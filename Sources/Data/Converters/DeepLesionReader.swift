import Foundation

/// Reads DeepLesion's `DL_info.csv`: one row per lesion with the columns
///
///     File_name, Patient_index, Study_index, Series_ID, Key_slice_index, Measurement_coordinates,
///     Bounding_boxes, Lesion_diameters_Pixel_, Normalized_lesion_location, Coarse_lesion_type,
///     Possibly_noisy, Slice_range, Spacing_mm_px_, Image_size, DICOM_windows, Patient_gender,
///     Patient_age, Train_Val_Test
///
/// where lists are quoted and comma-separated (`"226.169, 90.0204, 241.252, 111.977"`). The key
/// slice of `File_name` `000001_01_01_109.png` is `Images_png/000001_01_01/109.png`, a 16-bit PNG
/// whose value − 32768 is in Hounsfield units.
///
/// - One class, `lesion` (file category id 1): the universal lesion detection task. Rows of the
///   same key slice are one image with several lesions.
/// - Boxes are `Bounding_boxes` less one pixel on every coordinate: the file counts from 1 (as
///   3DCE and MULAN read it); RECIST measurement coordinates are shifted alike.
/// - `Train_Val_Test` (1, 2, 3) chooses the split.
/// - Kept as attributes: per image the patient, study, series and slice indices, the spacing
///   (`Spacing_mm_px_`: x, y in mm per pixel, z the slice interval in mm), the slice range, the
///   DICOM window, gender and age; per lesion the coarse type (−1 unknown, 1–8 bone, abdomen,
///   mediastinum, liver, lung, kidney, soft tissue, pelvis, with its name), the noisy flag, the
///   RECIST coordinates and diameters and the normalised location.
/// - Training reads 8-bit images: `convert` windows each key slice to 8 bits (the row's
///   `DICOM_windows`, or a fixed window) and writes it as `<File_name>` in one folder, which
///   `read` then takes as the image folder.
public enum DeepLesionReader {
  public static let metadata = DatasetMetadata(categories: [.init(id: 1, name: "lesion")])

  /// `Coarse_lesion_type` 1...8 in order.
  public static let lesionTypes = ["bone", "abdomen", "mediastinum", "liver", "lung", "kidney", "soft tissue", "pelvis"]

  /// The columns of `DL_info.csv`, in the released file's order (they are found by name).
  public static let columns = [
    "File_name", "Patient_index", "Study_index", "Series_ID", "Key_slice_index", "Measurement_coordinates", "Bounding_boxes",
    "Lesion_diameters_Pixel_", "Normalized_lesion_location", "Coarse_lesion_type", "Possibly_noisy", "Slice_range",
    "Spacing_mm_px_", "Image_size", "DICOM_windows", "Patient_gender", "Patient_age", "Train_Val_Test",
  ]

  /// The value the 16-bit slices add to Hounsfield units.
  public static let offset = 32768.0

  /// The Hounsfield range mapped to 0...255 when windowing.
  public enum Window: Sendable, Equatable {
    /// Each slice's `DICOM_windows` (the window radiologists viewed it with).
    case dicom
    /// One window for every slice (3DCE uses −1024...3071).
    case fixed(low: Double, high: Double)
  }

  /// One lesion row.
  struct Lesion {
    var line: Int
    var box: Box
    var attributes: Attributes
  }

  /// One key slice and its lesions.
  struct Entry {
    var fileName: String
    /// `Images_png/<folder>/<slice>`.
    var slicePath: String
    var line: Int
    var width: Int
    var height: Int
    var window: [Double]
    var attributes: Attributes
    var lesions: [Lesion]
  }

  /// `DL_info.csv` itself, or the one inside a folder.
  public static func annotationFile(_ url: URL) -> URL {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
      return url.appendingPathComponent("DL_info.csv")
    }
    return url
  }

  /// The `Train_Val_Test` value of a split name (`train`, `val`, `test`; `all`: nil, every row;
  /// nil: `train`).
  public static func splitValue(_ split: String?) throws -> Int? {
    switch split ?? "train" {
    case "train": return 1
    case "val": return 2
    case "test": return 3
    case "all": return nil
    default: throw DatasetFormatError(file: "DL_info.csv", message: "no split '\(split ?? "")' (train, val, test or all)")
    }
  }

  /// The key slices of a split with their lesions, in the order the file first names them; rows
  /// that cannot be read are reported and left out (rows of other splits are not looked at).
  static func entries(_ csv: CSVRows, split: Int?, checks: inout AnnotationChecks) throws -> [Entry] {
    guard let header = csv.rows.first else { throw DatasetFormatError(file: csv.file, message: "the file is empty") }
    var column: [String: Int] = [:]
    for (index, name) in header.fields.enumerated() { column[name.trimmingCharacters(in: .whitespaces)] = index }
    if let missing = columns.first(where: { column[$0] == nil }) {
      throw DatasetFormatError(file: csv.file, location: "line \(header.line)", message: "no column '\(missing)' (expected DeepLesion's \(columns.count) columns)")
    }
    var entries: [Entry] = []
    var entryOf: [String: Int] = [:]
    for row in csv.rows.dropFirst() {
      let record = "line \(row.line)"
      guard row.fields.count == header.fields.count else {
        checks.report(.invalidRecord, record: record, detail: "expected \(header.fields.count) fields, found \(row.fields.count)")
        continue
      }
      let value = { (name: String) in row.fields[column[name]!].trimmingCharacters(in: .whitespaces) }
      do {
        let rowSplit = try integer(value("Train_Val_Test"), "Train_Val_Test", in: 1...3, expected: "1 (train), 2 (val) or 3 (test)")
        if let split, rowSplit != split { continue }
        let fileName = value("File_name")
        guard fileName.hasSuffix(".png"), !fileName.contains("/"), let cut = fileName.lastIndex(of: "_"),
          cut != fileName.startIndex, fileName.index(after: cut) != fileName.index(fileName.endIndex, offsetBy: -4)
        else {
          throw RowProblem("File_name '\(fileName)' is not <patient>_<study>_<series>_<slice>.png")
        }
        let box = try numbers(value("Bounding_boxes"), "Bounding_boxes", count: 4).map { $0 - 1 }
        let size = try numbers(value("Image_size"), "Image_size", count: 2)
        guard size.allSatisfy({ $0 >= 1 && $0 == $0.rounded() && $0 < 1e6 }) else { throw RowProblem("Image_size '\(value("Image_size"))' is not a width and height") }
        let lesionType = try integer(value("Coarse_lesion_type"), "Coarse_lesion_type", in: -1...8, expected: "-1 (unknown) or 1 to 8")
        guard lesionType != 0 else { throw RowProblem("Coarse_lesion_type is 0, expected -1 (unknown) or 1 to 8") }
        let noisy = try integer(value("Possibly_noisy"), "Possibly_noisy", in: 0...1, expected: "0 or 1")
        var lesion: Attributes = [
          "lesion_type": .number(Double(lesionType)), "possibly_noisy": .bool(noisy == 1),
          "measurement_coordinates": .numbers(try numbers(value("Measurement_coordinates"), "Measurement_coordinates", count: 8).map { $0 - 1 }),
          "lesion_diameters_px": .numbers(try numbers(value("Lesion_diameters_Pixel_"), "Lesion_diameters_Pixel_", count: 2)),
          "normalized_location": .numbers(try numbers(value("Normalized_lesion_location"), "Normalized_lesion_location", count: 3)),
        ]
        if lesionType > 0 { lesion["lesion_type_name"] = .string(lesionTypes[lesionType - 1]) }
        var image: Attributes = [
          "patient_index": .number(Double(try integer(value("Patient_index"), "Patient_index", in: 0...Int(Int32.max), expected: "an index"))),
          "study_index": .number(Double(try integer(value("Study_index"), "Study_index", in: 0...Int(Int32.max), expected: "an index"))),
          "series_id": .number(Double(try integer(value("Series_ID"), "Series_ID", in: 0...Int(Int32.max), expected: "an index"))),
          "key_slice_index": .number(Double(try integer(value("Key_slice_index"), "Key_slice_index", in: 0...Int(Int32.max), expected: "an index"))),
          "spacing_mm_px": .numbers(try numbers(value("Spacing_mm_px_"), "Spacing_mm_px_", count: 3)),
          "slice_range": .numbers(try numbers(value("Slice_range"), "Slice_range", count: 2)),
          "train_val_test": .number(Double(rowSplit)),
        ]
        let window = try numbers(value("DICOM_windows"), "DICOM_windows", count: 2)
        image["dicom_window"] = .numbers(window)
        if !value("Patient_gender").isEmpty { image["patient_gender"] = .string(value("Patient_gender")) }
        let age = value("Patient_age")
        if !age.isEmpty, age.lowercased() != "nan" {
          guard let years = Double(age), years.isFinite else { throw RowProblem("Patient_age is '\(age)', expected a number") }
          image["patient_age"] = .number(years)
        }
        let item = Lesion(line: row.line, box: Box(x1: Float(box[0]), y1: Float(box[1]), x2: Float(box[2]), y2: Float(box[3])), attributes: lesion)
        if let index = entryOf[fileName] {
          entries[index].lesions.append(item)
        } else {
          entryOf[fileName] = entries.count
          let slicePath = "\(fileName[..<cut])/\(fileName[fileName.index(after: cut)...])"
          entries.append(Entry(
            fileName: fileName, slicePath: slicePath, line: row.line, width: Int(size[0]), height: Int(size[1]), window: window,
            attributes: image, lesions: [item]))
        }
      } catch let problem as RowProblem {
        checks.report(.invalidRecord, record: record, detail: problem.description)
      }
    }
    return entries
  }

  /// Reads `DL_info.csv` (or the folder holding it) with `images` the folder of 8-bit key slices
  /// named by `File_name`, as `convert` writes them.
  public static func read(
    annotations: URL, images: URL, split: String? = nil, policy: BadDataPolicy = .skip, threadCount: Int = 4
  ) throws -> Dataset {
    let url = annotationFile(annotations)
    let csv = try CSVRows(contentsOf: url)
    var checks = AnnotationChecks(file: url.path, policy: policy)
    let entries = try self.entries(csv, split: try splitValue(split), checks: &checks)
    let recordNames = entries.enumerated().map { "image \($0.offset) (\($0.element.fileName))" }
    let (sizes, imageIssues) = ImageSizes.measure(entries.map { images.appendingPathComponent($0.fileName) }, records: recordNames, threadCount: threadCount)
    var records: [DatasetRecord] = []
    var issues: [DataIssue] = []
    for (index, entry) in entries.enumerated() {
      guard case let (width, height)? = sizes[index] else { continue }
      guard width == entry.width, height == entry.height else {
        issues.append(DataIssue(
          .sizeMismatch, file: images.appendingPathComponent(entry.fileName).path, record: recordNames[index],
          detail: "the image is \(width)x\(height), Image_size (line \(entry.line)) says \(entry.width)x\(entry.height)"))
        continue
      }
      records.append(record(entry, imageId: index, attributes: entry.attributes, checks: &checks))
    }
    issues = checks.issues + issues + imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(images), annotationFile: url.path, issues: issues)
  }

  /// Windows the key slices of a split to 8-bit gray PNGs named by `File_name` under `output`
  /// and returns their records (file names relative to `output`).
  ///
  /// - Parameters:
  ///   - annotations: `DL_info.csv`, or the folder holding it.
  ///   - slices: the folder holding `<patient>_<study>_<series>/<slice>.png` (nil: `Images_png/`
  ///     beside the CSV file).
  ///   - window: each row's `DICOM_windows`, or a fixed Hounsfield range. A value `v` becomes
  ///     `round((v − 32768 − low) / (high − low) × 255)`, clamped to 0...255.
  public static func convert(
    annotations: URL, slices: URL? = nil, split: String? = nil, window: Window = .dicom, output: URL, policy: BadDataPolicy = .skip,
    threadCount: Int = 4
  ) throws -> Dataset {
    let url = annotationFile(annotations)
    let csv = try CSVRows(contentsOf: url)
    let sliceFolder = slices ?? url.deletingLastPathComponent().appendingPathComponent("Images_png")
    if case .fixed(let low, let high) = window, !(low < high && low.isFinite && high.isFinite) {
      throw DatasetFormatError(file: url.path, message: "the window \(low)...\(high) is empty")
    }
    var checks = AnnotationChecks(file: url.path, policy: policy)
    let entries = try self.entries(csv, split: try splitValue(split), checks: &checks)
    do {
      try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    } catch {
      throw DatasetFormatError(file: output.path, message: "cannot create the folder (\(error.localizedDescription))")
    }
    let slots = SliceSlots(count: entries.count)
    let csvPath = url.path
    @Sendable func convertOne(_ index: Int) {
      let entry = entries[index]
      let source = sliceFolder.appendingPathComponent(entry.slicePath)
      let recordName = "image \(index) (\(entry.fileName))"
      let (low, high): (Double, Double)
      switch window {
      case .fixed(let l, let h): (low, high) = (l, h)
      case .dicom:
        guard entry.window[0] < entry.window[1] else {
          slots.set(index, .problem(DataIssue(
            .invalidRecord, file: csvPath, record: "line \(entry.line)",
            detail: "DICOM_windows \(entry.window.map(DOTAReader.format).joined(separator: ", ")) is not a window (low end first); a fixed window converts it")))
          return
        }
        (low, high) = (entry.window[0], entry.window[1])
      }
      guard FileManager.default.fileExists(atPath: source.path) else {
        slots.set(index, .problem(DataIssue(.missingImage, file: source.path, record: recordName, detail: "no such file")))
        return
      }
      do {
        let data = try Data(contentsOf: source)
        let depth = try ImageCodec.bitDepth(data)
        guard depth == 16 else {
          slots.set(index, .problem(DataIssue(.corruptImage, file: source.path, record: recordName, detail: "a \(depth)-bit image; DeepLesion's slices are 16-bit PNGs")))
          return
        }
        let slice = try ImageCodec.decode16(data, channels: 1)
        guard slice.width == entry.width, slice.height == entry.height else {
          slots.set(index, .problem(DataIssue(
            .sizeMismatch, file: source.path, record: recordName,
            detail: "the image is \(slice.width)x\(slice.height), Image_size (line \(entry.line)) says \(entry.width)x\(entry.height)")))
          return
        }
        let image = windowed(slice, low: low, high: high)
        let target = output.appendingPathComponent(entry.fileName)
        do {
          try ImageCodec.encodePNG(image).write(to: target, options: .atomic)
        } catch {
          slots.set(index, .fatal(DatasetFormatError(file: target.path, message: "cannot write the windowed slice (\(error))")))
          return
        }
        slots.set(index, .converted(low: low, high: high))
      } catch {
        slots.set(index, .problem(DataIssue(.corruptImage, file: source.path, record: recordName, detail: "\(error)")))
      }
    }
    let workers = max(1, min(threadCount, entries.count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      for index in stride(from: worker, to: entries.count, by: workers) { convertOne(index) }
    }
    var records: [DatasetRecord] = []
    var imageIssues: [DataIssue] = []
    for (index, entry) in entries.enumerated() {
      switch slots.get(index) {
      case .converted(let low, let high):
        var attributes = entry.attributes
        attributes["hu_window"] = .numbers([low, high])
        records.append(record(entry, imageId: index, attributes: attributes, checks: &checks))
      case .problem(let issue): imageIssues.append(issue)
      case .fatal(let error): throw error
      }
    }
    let issues = checks.issues + imageIssues
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return Dataset(records: records, metadata: metadata, imageSource: .folder(output), annotationFile: url.path, issues: issues)
  }

  /// A 16-bit slice as 8-bit gray: Hounsfield units (value − 32768) from `low` to `high` spread
  /// over 0...255, rounded, values outside clamped.
  public static func windowed(_ slice: Image16, low: Double, high: Double) -> Image {
    let (start, span) = (offset + low, high - low)
    var pixels = [UInt8](repeating: 0, count: slice.width * slice.height)
    slice.samples.withUnsafeBufferPointer { samples in
      pixels.withUnsafeMutableBufferPointer { out in
        for i in 0..<out.count {
          let value = ((Double(samples[i * slice.channels]) - start) * 255 / span).rounded()
          out[i] = UInt8(min(max(value, 0), 255))
        }
      }
    }
    return Image(width: slice.width, height: slice.height, channels: 1, pixels: pixels)
  }

  /// The record of a key slice, with each lesion's box checked against the image.
  static func record(_ entry: Entry, imageId: Int, attributes: Attributes, checks: inout AnnotationChecks) -> DatasetRecord {
    var record = DatasetRecord(imageId: imageId, fileName: entry.fileName, width: entry.width, height: entry.height, attributes: attributes)
    for lesion in entry.lesions {
      guard let box = checks.checkedBox(lesion.box, imageWidth: entry.width, imageHeight: entry.height, record: "line \(lesion.line)") else { continue }
      record.instances.append(AnnotationInstance(box: box, label: 0, attributes: lesion.attributes))
    }
    return record
  }

  /// A comma-separated list of `count` numbers, or the problem naming the column.
  static func numbers(_ text: String, _ name: String, count: Int) throws -> [Double] {
    let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard values.count == count, values.allSatisfy({ $0?.isFinite ?? false }) else {
      throw RowProblem("\(name) is '\(text)', expected \(count) numbers")
    }
    return values.map { $0 ?? 0 }
  }

  /// An integer in `range`, or the problem naming the column.
  static func integer(_ text: String, _ name: String, in range: ClosedRange<Int>, expected: String) throws -> Int {
    guard let value = Int(text), range.contains(value) else { throw RowProblem("\(name) is '\(text)', expected \(expected)") }
    return value
  }

  /// Why a row cannot be used, worded for the report.
  struct RowProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }
}

/// What became of each key slice, written from several threads.
private final class SliceSlots: @unchecked Sendable {
  enum Result {
    case converted(low: Double, high: Double)
    case problem(DataIssue)
    case fatal(DatasetFormatError)
  }

  private let lock = NSLock()
  private var slots: [Result?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ result: Result) { lock.withLock { slots[index] = result } }
  func get(_ index: Int) -> Result {
    lock.withLock { slots[index] ?? .fatal(DatasetFormatError(file: "", message: "a slice was not converted")) }
  }
}
