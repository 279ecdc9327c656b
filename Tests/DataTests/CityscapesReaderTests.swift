import Foundation
import Testing

@testable import Data

/// Fixtures/cityscapes (every image 64x32, polygons written by hand): gtFine/train/aachen/
/// aachen_000000 has road, out of roi, a car, a license plate, a person, a cargroup, a deleted
/// car, a caravan, a polegroup and a bicyclegroup; aachen_000001 only sky and ego vehicle;
/// bremen_000000 an unknown label, a concave rider, a 2-point truck, a bus reaching 3 pixels past
/// the top and right, a car with a string coordinate and a motorcycle; bremen_000001 has no
/// image; bremen_000002's image is 60x32 against the labels' 64x32; bremen_000003 is cut off
/// mid-file. gtFine/val/frankfurt has a person and a persongroup. A gtFine_labelIds.png beside
/// the polygons is not an annotation file.
@Suite struct CityscapesReaderTests {
  static let person = 0, rider = 1, car = 2, bus = 4, motorcycle = 6, bicycle = 7

  @Test func instanceClassesGroupsAsCrowdAndBoxesFromPolygons() throws {
    let root = try converterFixture("cityscapes")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try CityscapesReader.read(root: root)
    #expect(dataset.metadata.classNames == ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
    #expect(dataset.metadata.categories.map(\.id) == [24, 25, 26, 27, 28, 31, 32, 33])
    #expect(dataset.records.map(\.fileName) == [
      "aachen/aachen_000000_000019_leftImg8bit.png", "aachen/aachen_000001_000019_leftImg8bit.png",
      "bremen/bremen_000000_000019_leftImg8bit.png",
    ])
    #expect(dataset.records.map(\.imageId) == [0, 1, 2])
    #expect(dataset.records.allSatisfy { $0.width == 64 && $0.height == 32 })
    guard case .folder(let images) = dataset.imageSource else { Issue.record("no image folder"); return }
    #expect(images.path.hasSuffix("leftImg8bit/train"))

    // Stuff, out of roi, the license plate, the deleted car, the caravan and the polegroup are
    // left out; boxes run from the smallest vertex to one past the largest.
    let first = dataset.records[0].instances
    #expect(first.map(\.label) == [Self.car, Self.person, Self.car, Self.bicycle])
    #expect(first.map(\.box) == [
      Box(x1: 10, y1: 12, x2: 31, y2: 23), Box(x1: 38, y1: 4, x2: 47, y2: 22), Box(x1: 48, y1: 10, x2: 64, y2: 19),
      Box(x1: 50, y1: 22, x2: 61, y2: 31),
    ])
    #expect(first.map(\.isCrowd) == [false, false, true, true])
    #expect(first[1].segmentation == .polygons([[40, 5, 44, 4, 46, 20, 38, 21]]))
    #expect(dataset.records[1].instances.isEmpty)

    // The bus is clipped to the image after its report.
    let third = dataset.records[2].instances
    #expect(third.map(\.label) == [Self.rider, Self.bus, Self.motorcycle])
    #expect(third.map(\.box) == [Box(x1: 5, y1: 5, x2: 16, y2: 16), Box(x1: 50, y1: 0, x2: 64, y2: 11), Box(x1: 30, y1: 20, x2: 41, y2: 31)])
    #expect(third[0].segmentation == .polygons([[5, 5, 15, 5, 10, 10, 15, 15, 5, 15]]))
  }

  @Test func problemsNameTheFileAndTheObject() throws {
    let root = try converterFixture("cityscapes")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try CityscapesReader.read(root: root)
    #expect(dataset.issues.map { "\($0.kind) \($0.record)" } == [
      "unknownCategory objects[0]", "invalidRecord objects[2]", "boxOutsideImage objects[3] ('bus')",
      "invalidRecord objects[4].polygon[1][1]", "sizeMismatch image 4 (bremen/bremen_000002_000019_leftImg8bit.png)",
      "invalidRecord file", "missingImage image 3 (bremen/bremen_000001_000019_leftImg8bit.png)",
    ])
    let bremen = root.appendingPathComponent("gtFine/train/bremen/bremen_000000_000019_gtFine_polygons.json").path
    #expect(dataset.issues[0].description == "\(bremen): objects[0]: unknown category: label 'dragon' is not a Cityscapes label (cityscapesScripts' labels.py)")
    #expect(dataset.issues[1].detail == "'truck' polygon has 2 points (needs at least 3)")
    #expect(dataset.issues[4].detail == "imgWidth x imgHeight is 64x32, the image is 60x32")
    #expect(dataset.issues[5].file.hasSuffix("bremen_000003_000019_gtFine_polygons.json"))
    #expect(dataset.issues[5].detail.hasPrefix("malformed JSON"))

    let error = #expect(throws: DataValidationError.self) { try CityscapesReader.read(root: root, policy: .fail) }
    #expect(error?.issues.count == 7)
  }

  @Test func splitsAndFormatDispatch() throws {
    let root = try converterFixture("cityscapes")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(DatasetFormat.detect(annotations: root) == .cityscapes)
    let val = try DatasetFormat.cityscapes.read(annotations: root, images: nil, imageSet: "val", policy: .fail)
    #expect(val.records.map(\.fileName) == ["frankfurt/frankfurt_000000_000294_leftImg8bit.png"])
    #expect(val.records[0].instances.map(\.box) == [Box(x1: 20, y1: 4, x2: 28, y2: 30), Box(x1: 40, y1: 8, x2: 61, y2: 29)])
    #expect(val.records[0].instances.map(\.isCrowd) == [false, true])
    #expect(val.records[0].instances.map(\.label) == [Self.person, Self.person])
    #expect(DatasetFormat.cityscapes.fixedMetadata() == CityscapesReader.metadata)
    let error = #expect(throws: DatasetFormatError.self) { try CityscapesReader.read(root: root, split: "test") }
    #expect(error?.description.contains("no gtFine/test folder") == true)
  }
}
