import Foundation
import Testing

@testable import Data

/// Fixtures/crowdhuman/annotation_train.odgt: line 1 (80x64) a person reaching past the left and
/// bottom edges, a mask region, an ignored person and a person whose head is ignored; line 2
/// (40x30) no boxes; line 3 broken JSON; line 4 (40x30) an unknown tag, a box wholly outside, an
/// empty box and a box without fbox; line 5 an image that does not exist; a blank last line.
@Suite struct CrowdHumanReaderTests {
  static func read(_ kind: CrowdHumanReader.BoxKind) throws -> (Dataset, URL) {
    let root = try converterFixture("crowdhuman")
    return (try DatasetFormat.crowdHuman.read(annotations: root, images: nil, imageSet: nil, crowdHumanBox: kind), root)
  }

  @Test func fullBoxesClippedAsTheToolkitDoes() throws {
    let (dataset, root) = try Self.read(.full)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(dataset.metadata == CrowdHumanReader.metadata)
    #expect(dataset.records.map(\.fileName) == ["273271,c9db000d5146c15.jpg", "284193,faa9000f2678b5e.jpg", "273275,4e9d1000623a1a05.jpg"])
    let first = dataset.records[0].instances
    // x1 clipped to [0, w - 1], x2 to [0, w]; the same for y.
    #expect(first.map(\.box) == [
      Box(x1: 0, y1: 5, x2: 40, y2: 64), Box(x1: 60, y1: 0, x2: 80, y2: 20), Box(x1: 70, y1: 40, x2: 80, y2: 64),
      Box(x1: 50, y1: 10, x2: 70, y2: 40),
    ])
    #expect(first.map(\.isCrowd) == [false, true, true, false])
    #expect(dataset.records[1].instances.isEmpty && dataset.records[2].instances.isEmpty)
    #expect(dataset.issues.map(\.kind) == [.invalidRecord, .unknownCategory, .invalidRecord, .boxOutsideImage, .degenerateBox, .missingImage])
    #expect(dataset.issues[0].record == "line 3")
    #expect(dataset.issues[0].detail.hasPrefix("malformed JSON"))
    #expect(dataset.issues[1].description.contains("line 4 (273275,4e9d1000623a1a05) gtboxes[0]: unknown category: tag 'dog'"))
    #expect(dataset.issues[2].detail == "gtboxes[3]: missing field 'fbox'")
    #expect(dataset.issues[3].record == "line 4 (273275,4e9d1000623a1a05) gtboxes[1]")
    #expect(dataset.issues[5].file.hasSuffix("Images/273278,missing.jpg"))
  }

  @Test func headBoxesHonourTheHeadIgnoreFlag() throws {
    let (dataset, root) = try Self.read(.head)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let first = dataset.records[0].instances
    #expect(first.map(\.box) == [
      Box(x1: 10, y1: 6, x2: 22, y2: 20), Box(x1: 60, y1: 0, x2: 80, y2: 20), Box(x1: 72, y1: 41, x2: 77, y2: 47),
      Box(x1: 55, y1: 11, x2: 59, y2: 15),
    ])
    #expect(first.map(\.isCrowd) == [false, true, true, true])
    // Broken JSON, and the last box of line 4 (no hbox either).
    #expect(dataset.issues.filter { $0.kind == .invalidRecord }.count == 2)
  }

  @Test func visibleBoxes() throws {
    let (dataset, root) = try Self.read(.visible)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    #expect(dataset.records[0].instances.map(\.box) == [
      Box(x1: 0, y1: 5, x2: 30, y2: 64), Box(x1: 60, y1: 0, x2: 80, y2: 20), Box(x1: 70, y1: 40, x2: 80, y2: 60),
      Box(x1: 52, y1: 12, x2: 62, y2: 22),
    ])
    #expect(dataset.records[0].instances.map(\.isCrowd) == [false, true, true, false])
    #expect(dataset.records[2].instances.map(\.box) == [Box(x1: 1, y1: 1, x2: 6, y2: 6)])
  }

  @Test func detectionAndFailPolicy() throws {
    let root = try converterFixture("crowdhuman")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let file = root.appendingPathComponent("annotation_train.odgt")
    #expect(DatasetFormat.detect(annotations: root) == .crowdHuman)
    #expect(DatasetFormat.detect(annotations: file) == .crowdHuman)
    let error = #expect(throws: DataValidationError.self) {
      try CrowdHumanReader.read(annotations: file, images: root.appendingPathComponent("Images"), policy: .fail)
    }
    #expect(error?.issues.count == 6)
  }
}
