import Foundation
import Testing

@testable import Data

/// Fixtures/deeplesion: DL_info.csv written by hand with the released file's 18 columns and
/// quoting, 16-bit slices (16x12, one value each) under Images_png/<patient>_<study>_<series>/.
/// Train rows: 000001 (95 HU) two lesions on one key slice, the second of unknown type and
/// possibly noisy; 000002 (0 HU) without an age; 000005 without a slice; 000006 a box with a word
/// in it; 000008 (0 HU) a reversed DICOM window and a box past the right edge; 000009 a 20x16
/// slice that Image_size calls 16x12. Line 9 has Train_Val_Test 4, line 12 only 17 fields. Val:
/// 000003 (−1350 HU) without a gender; test: 000004 (7232 HU).
@Suite struct DeepLesionReaderTests {
  static func convert(_ window: DeepLesionReader.Window, split: String? = nil) throws -> (Dataset, URL) {
    let root = try converterFixture("deeplesion")
    let out = root.deletingLastPathComponent().appendingPathComponent("slices")
    return (try DeepLesionReader.convert(annotations: root, split: split, window: window, output: out), root)
  }

  @Test func keySlicesWindowedByTheirDICOMWindows() throws {
    let (dataset, root) = try Self.convert(.dicom)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(dataset.metadata == DeepLesionReader.metadata && dataset.metadata.classNames == ["lesion"])
    #expect(dataset.records.map(\.fileName) == ["000001_01_01_109.png", "000002_02_01_077.png"])
    #expect(dataset.records.map(\.imageId) == [0, 1])
    #expect(dataset.records.allSatisfy { $0.width == 16 && $0.height == 12 })

    // Boxes count from 1 in the file.
    let first = dataset.records[0]
    #expect(first.instances.map(\.box) == [Box(x1: 2, y1: 1, x2: 10, y2: 9), Box(x1: 11, y1: 2, x2: 15, y2: 8)])
    #expect(first.instances.allSatisfy { $0.label == 0 && !$0.isCrowd })
    #expect(first.attributes == [
      "patient_index": .number(1), "study_index": .number(1), "series_id": .number(1), "key_slice_index": .number(109),
      "spacing_mm_px": .numbers([0.488281, 0.488281, 5]), "slice_range": .numbers([103, 115]), "train_val_test": .number(1),
      "dicom_window": .numbers([-175, 275]), "patient_gender": .string("F"), "patient_age": .number(62), "hu_window": .numbers([-175, 275]),
    ])
    #expect(first.instances[0].attributes == [
      "lesion_type": .number(3), "lesion_type_name": .string("mediastinum"), "possibly_noisy": .bool(false),
      "measurement_coordinates": .numbers([4.5, 3, 8.5, 7, 5, 6, 8, 4]), "lesion_diameters_px": .numbers([5.65685, 4.24264]),
      "normalized_location": .numbers([0.44666, 0.283794, 0.434454]),
    ])
    #expect(first.instances[1].attributes["lesion_type"] == .number(-1) && first.instances[1].attributes["lesion_type_name"] == nil)
    #expect(first.instances[1].attributes["possibly_noisy"] == .bool(true))
    #expect(dataset.records[1].attributes["patient_age"] == nil && dataset.records[1].attributes["patient_gender"] == .string("M"))
    #expect(dataset.records[1].instances.map(\.box) == [Box(x1: 0, y1: 0, x2: 7, y2: 5)])

    // (95 + 175) / 450 * 255 = 153; (0 + 160) / 400 * 255 = 102.
    let out = root.deletingLastPathComponent().appendingPathComponent("slices")
    let slice = try ImageCodec.decode(contentsOf: out.appendingPathComponent("000001_01_01_109.png"))
    #expect(slice.channels == 1 && slice.width == 16 && Set(slice.pixels) == [153])
    #expect(Set(try ImageCodec.decode(contentsOf: out.appendingPathComponent("000002_02_01_077.png")).pixels) == [102])
    #expect(try ImageCodec.bitDepth(try Data(contentsOf: out.appendingPathComponent("000002_02_01_077.png"))) == 8)

    let csv = root.appendingPathComponent("DL_info.csv").path
    #expect(dataset.issues.map { "\($0.kind) \($0.record)" } == [
      "invalidRecord line 8", "invalidRecord line 9", "invalidRecord line 12", "missingImage image 2 (000005_01_01_005.png)",
      "invalidRecord line 10", "sizeMismatch image 4 (000009_01_01_001.png)",
    ])
    #expect(dataset.issues[0].description == "\(csv): line 8: invalid record: Bounding_boxes is '5, 5, five, 9', expected 4 numbers")
    #expect(dataset.issues[1].detail == "Train_Val_Test is '4', expected 1 (train), 2 (val) or 3 (test)")
    #expect(dataset.issues[2].detail == "expected 18 fields, found 17")
    #expect(dataset.issues[3].file == root.appendingPathComponent("Images_png/000005_01_01/005.png").path)
    #expect(dataset.issues[4].detail == "DICOM_windows 275, -175 is not a window (low end first); a fixed window converts it")
    #expect(dataset.issues[5].detail == "the image is 20x16, Image_size (line 11) says 16x12")
  }

  @Test func aFixedWindowAndTheOtherSplits() throws {
    let (fixed, root) = try Self.convert(.fixed(low: -1000, high: 1040))
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(fixed.records.map(\.imageId) == [0, 1, 3])
    // The reversed DICOM window does not matter; the box past the edge is clipped after its report.
    #expect(fixed.records[2].instances.map(\.box) == [Box(x1: 9, y1: 3, x2: 16, y2: 8)])
    #expect(fixed.records[2].attributes["hu_window"] == .numbers([-1000, 1040]))
    #expect(fixed.issues.map { "\($0.kind) \($0.record)" } == [
      "invalidRecord line 8", "invalidRecord line 9", "invalidRecord line 12", "boxOutsideImage line 10",
      "missingImage image 2 (000005_01_01_005.png)", "sizeMismatch image 4 (000009_01_01_001.png)",
    ])
    let out = root.deletingLastPathComponent().appendingPathComponent("slices")
    // (95 + 1000) / 2040 * 255 = 136.875; (0 + 1000) / 2040 * 255 = 125.
    #expect(Set(try ImageCodec.decode(contentsOf: out.appendingPathComponent("000001_01_01_109.png")).pixels) == [137])
    #expect(Set(try ImageCodec.decode(contentsOf: out.appendingPathComponent("000008_01_01_011.png")).pixels) == [125])

    // Rows of other splits are not looked at (line 8's bad box is a train row); the split column
    // and the field count are.
    let val = try DeepLesionReader.convert(annotations: root, split: "val", output: out)
    #expect(val.records.map(\.fileName) == ["000003_01_02_012.png"] && val.records[0].instances.map(\.box) == [Box(x1: 1, y1: 1, x2: 9, y2: 9)])
    #expect(val.records[0].attributes["patient_gender"] == nil && val.records[0].attributes["train_val_test"] == .number(2))
    #expect(val.issues.map(\.record) == ["line 9", "line 12"])
    #expect(Set(try ImageCodec.decode(contentsOf: out.appendingPathComponent("000003_01_02_012.png")).pixels) == [0])
    let test = try DeepLesionReader.convert(annotations: root.appendingPathComponent("DL_info.csv"), split: "test", output: out)
    #expect(test.records.map(\.fileName) == ["000004_01_01_030.png"])
    #expect(Set(try ImageCodec.decode(contentsOf: out.appendingPathComponent("000004_01_01_030.png")).pixels) == [255])
    #expect(try DeepLesionReader.convert(annotations: root, split: "all", output: out).records.count == 4)
    #expect(throws: DatasetFormatError.self) { try DeepLesionReader.convert(annotations: root, split: "holdout", output: out) }
    let error = #expect(throws: DataValidationError.self) { try DeepLesionReader.convert(annotations: root, output: out, policy: .fail) }
    #expect(error?.issues.count == 6)
  }

  /// Configs read the CSV with the converted slices as the image folder.
  @Test func readsTheConvertedSlices() throws {
    let (converted, root) = try Self.convert(.dicom)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let out = root.deletingLastPathComponent().appendingPathComponent("slices")
    #expect(DatasetFormat.detect(annotations: root) == .deeplesion)
    #expect(DatasetFormat.detect(annotations: root.appendingPathComponent("DL_info.csv")) == .deeplesion)
    let dataset = try DatasetFormat.deeplesion.read(annotations: root, images: out, imageSet: "train")
    #expect(dataset.records.map(\.fileName) == converted.records.map(\.fileName))
    #expect(dataset.records.map(\.instances) == converted.records.map(\.instances))
    // 000005, 000008 and 000009 were not converted.
    #expect(dataset.issues.map(\.kind) == [.invalidRecord, .invalidRecord, .invalidRecord, .missingImage, .missingImage, .missingImage])
    let error = #expect(throws: DatasetFormatError.self) { try DatasetFormat.deeplesion.read(annotations: root, images: nil, imageSet: nil) }
    #expect(error?.message.contains("--images-out") == true)
    #expect(DatasetFormat.deeplesion.fixedMetadata()?.classNames == ["lesion"])
  }

  @Test func windowingClampsAndRounds() {
    let slice = Image16(width: 5, height: 1, channels: 1, samples: [31744, 32593, 32863, 33043, 40000])
    // -1024, -175, 95, 275, 7232 HU in the window -175...275.
    #expect(DeepLesionReader.windowed(slice, low: -175, high: 275).pixels == [0, 0, 153, 255, 255])
  }

  @Test func csvRowsFollowRFC4180() throws {
    let rows = try CSVRows(text: "a,\"b, c\",\"say \"\"hi\"\"\"\r\n\r\n1,\"two\nlines\",3\nlast,,", file: "x.csv").rows
    #expect(rows.map(\.fields) == [["a", "b, c", "say \"hi\""], ["1", "two\nlines", "3"], ["last", "", ""]])
    #expect(rows.map(\.line) == [1, 3, 5])
    let error = #expect(throws: DatasetFormatError.self) { try CSVRows(text: "a,b\n1,\"open\n2,3\n", file: "x.csv") }
    #expect(error?.description == "x.csv: line 2: a quoted field never ends")
  }
}
