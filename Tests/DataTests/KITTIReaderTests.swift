import Foundation
import Testing

@testable import Data

/// Fixtures/kitti: 000000 (100x50) a car, a van, a truncated pedestrian and a DontCare region;
/// 000001 (80x60, CRLF line ends) a cyclist with a score field, a sitting person, and four bad
/// lines (unknown type, 7 fields, a box past the right edge, a zero-width box); 000002 (40x30)
/// empty; 000003 has no image. ImageSets/val.txt lists 000001 and 000002.
@Suite struct KITTIReaderTests {
  @Test func readsAllEightTypesWithDontCareAndDifficulty() throws {
    let root = try converterFixture("kitti")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try KITTIReader.read(root: root)
    #expect(dataset.metadata.classNames == KITTIClassMap.objectTypes)
    #expect(dataset.metadata.categories.map(\.id) == Array(1...8))
    #expect(dataset.records.map(\.fileName) == ["000000.png", "000001.png", "000002.png"])
    #expect(dataset.records.map(\.imageId) == [0, 1, 2])
    #expect(dataset.records.map(\.width) == [100, 80, 40] && dataset.records.map(\.height) == [50, 60, 30])

    let first = dataset.records[0].instances
    let objects = first.filter { !$0.isCrowd }
    #expect(objects.map(\.label) == [0, 1, 3])  // Car, Van, Pedestrian
    #expect(objects.map(\.box) == [
      Box(x1: 10, y1: 5, x2: 60, y2: 45), Box(x1: 60.5, y1: 10.25, x2: 90, y2: 40), Box(x1: 0, y1: 0, x2: 8, y2: 30),
    ])
    // Truncation 0.6 > 0.3: difficult; the van (occlusion 1, 29.75 px high) is moderate.
    #expect(objects.map(\.isDifficult) == [false, false, true])
    // DontCare: one ignore box per class.
    let ignored = first.filter(\.isCrowd)
    #expect(ignored.map(\.label) == Array(0..<8))
    #expect(Set(ignored.map(\.box)) == [Box(x1: 70, y1: 0, x2: 100, y2: 10)])

    let second = dataset.records[1].instances
    #expect(second.map(\.label) == [5, 4, 2])  // Cyclist, Person_sitting, Truck
    // Occlusion 2 and 20 px high: difficult.
    #expect(second.map(\.isDifficult) == [true, false, false])
    #expect(second[2].box == Box(x1: 70, y1: 10, x2: 80, y2: 50))
    #expect(dataset.records[2].instances.isEmpty)

    let label1 = root.appendingPathComponent("training/label_2/000001.txt").path
    let issues = dataset.issues.map { "\($0.kind) \($0.record)" }
    #expect(issues == [
      "unknownCategory line 3", "invalidRecord line 4", "boxOutsideImage line 5", "degenerateBox line 6", "missingImage image 3 (000003.png)",
    ])
    #expect(dataset.issues[0].file == label1)
    #expect(dataset.issues[0].description.contains("'Bus' is not a KITTI object type"))
    #expect(dataset.issues[1].detail == "expected 15 fields (16 with a score), found 7")
  }

  @Test func mergesClassesAndLeavesOthersOut() throws {
    let root = try converterFixture("kitti")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let map = try KITTIClassMap(["Car+Van", "Pedestrian+Person_sitting", "Cyclist"])
    let dataset = try KITTIReader.read(root: root.appendingPathComponent("training"), classes: map)
    #expect(dataset.metadata.classNames == ["Car", "Pedestrian", "Cyclist"])
    let first = dataset.records[0].instances
    #expect(first.filter { !$0.isCrowd }.map(\.label) == [0, 0, 1])
    #expect(first.filter(\.isCrowd).map(\.label) == [0, 1, 2])
    // Truck and Tram are left out without a report; the zero-width tram is not looked at.
    #expect(dataset.records[1].instances.map(\.label) == [2, 1])
    #expect(dataset.issues.map(\.kind) == [.unknownCategory, .invalidRecord, .missingImage])
  }

  @Test func imageSetListsChooseTheImages() throws {
    let root = try converterFixture("kitti")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try KITTIReader.read(root: root, imageSet: "val")
    #expect(dataset.records.map(\.imageId) == [1, 2])
    let error = #expect(throws: DatasetFormatError.self) { try KITTIReader.read(root: root, imageSet: "test") }
    #expect(error?.description.contains("ImageSets/test.txt") == true)
  }

  @Test func failPolicyThrowsEveryProblem() throws {
    let root = try converterFixture("kitti")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let error = #expect(throws: DataValidationError.self) { try KITTIReader.read(root: root, policy: .fail) }
    #expect(error?.issues.count == 5)
    #expect(throws: DatasetFormatError.self) { try KITTIReader.read(root: root.appendingPathComponent("ImageSets")) }
  }

  @Test func classMapsAreChecked() throws {
    #expect(KITTIClassMap.all.classNames.count == 8)
    #expect(try KITTIClassMap(["Car+Van", "Cyclist"]).label(ofType: "Van") == 0)
    for bad in [["Car", "Car+Van"], ["Bus"], [], ["Car+"], ["DontCare"]] {
      #expect(throws: KITTIClassMapError.self, "\(bad)") { try KITTIClassMap(bad) }
    }
  }

  @Test func formatDispatchAndDetection() throws {
    let root = try converterFixture("kitti")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(DatasetFormat.detect(annotations: root) == .kitti)
    let dataset = try DatasetFormat.kitti.read(annotations: root, images: nil, classes: ["Car", "Cyclist"], imageSet: nil)
    #expect(dataset.metadata.classNames == ["Car", "Cyclist"])
    #expect(DatasetFormat.kitti.fixedMetadata(classes: ["Car+Van"])?.classNames == ["Car"])
  }
}
