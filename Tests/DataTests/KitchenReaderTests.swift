import Foundation
import Testing

@testable import Data

/// Fixtures/kitchen, the universal-detection benchmark's VOC layout (64x48 PNGs): train lists 0
/// (a bottle and a "Red_Bull " to lower-case and trim), 1 (no <size>; a difficult tube of
/// Pringles, a class outside the 11 and a box with xmax < xmin), 2 (cut off mid-file), 3 (no
/// image), 4 (<size> 64x48, image 60x48) and 6 (no objects); test lists 5 (a box past the right
/// edge).
@Suite struct KitchenReaderTests {
  @Test func vocLayoutWithTheElevenProducts() throws {
    let root = try converterFixture("kitchen")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try KitchenReader.read(root: root)
    #expect(dataset.metadata.classNames.count == 11 && dataset.metadata.categories.map(\.id) == Array(1...11))
    #expect(dataset.records.map(\.fileName) == ["0.png", "1.png", "6.png"])
    #expect(dataset.records.map(\.imageId) == [0, 1, 6])
    // VOC's 1-based corners: xmin - 1, ymin - 1, xmax, ymax.
    #expect(dataset.records[0].instances.map(\.box) == [Box(x1: 10, y1: 5, x2: 20, y2: 30), Box(x1: 30, y1: 20, x2: 40, y2: 45)])
    #expect(dataset.records[0].instances.map(\.label) == [0, 10])
    #expect(dataset.records[1].instances.map(\.box) == [Box(x1: 0, y1: 0, x2: 16, y2: 16)])
    #expect(dataset.records[1].instances.map(\.label) == [9] && dataset.records[1].instances[0].isDifficult)
    #expect(dataset.records[2].instances.isEmpty)
    #expect(dataset.issues.map { "\($0.kind) \($0.record)" } == [
      "unknownCategory object 1", "degenerateBox object 2", "invalidRecord file", "sizeMismatch image 4 (4.png)", "missingImage image 3 (3.png)",
    ])
    #expect(dataset.issues[0].file == root.appendingPathComponent("Annotations/1.xml").path)
    #expect(dataset.issues[0].detail == "'sprite' is not one of the benchmark's 11 Kitchen classes")
    #expect(dataset.issues[3].detail == "<size> says 64x48, the image is 60x48")
    let error = #expect(throws: DataValidationError.self) { try KitchenReader.read(root: root, policy: .fail) }
    #expect(error?.issues.count == 5)
  }

  @Test func splitsAndFormatDispatch() throws {
    let root = try converterFixture("kitchen")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let test = try DatasetFormat.kitchen.read(annotations: root, images: nil, imageSet: "test")
    #expect(test.records.map(\.fileName) == ["5.png"])
    #expect(test.records[0].instances.map(\.box) == [Box(x1: 49, y1: 9, x2: 64, y2: 20)] && test.records[0].instances[0].label == 4)
    #expect(test.issues.map(\.kind) == [.boxOutsideImage])
    #expect(try DatasetFormat.kitchen.read(annotations: root, images: nil, imageSet: "all").records.map(\.imageId) == [0, 1, 5, 6])
    #expect(DatasetFormat.kitchen.fixedMetadata() == KitchenReader.metadata)
    let error = #expect(throws: DatasetFormatError.self) { try KitchenReader.read(root: root, split: "val") }
    #expect(error?.description.contains("ImageSets/Main/val.txt: no such image-set list") == true)
  }
}
