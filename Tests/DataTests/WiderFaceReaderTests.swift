import Foundation
import Testing

@testable import Data

/// Fixtures/wider_face: train lists an 80x64 image with a face and an invalid face, a 40x30 image
/// with 0 faces (and its all-zero row), and an 80x60 image with a zero-width face, a face past the
/// corner and a short row; val lists a 20x20 image and one whose file is missing.
@Suite struct WiderFaceReaderTests {
  @Test func readsFacesInvalidFacesAndEmptyImages() throws {
    let root = try converterFixture("wider_face")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try DatasetFormat.widerFace.read(annotations: root, images: nil, imageSet: nil)
    #expect(dataset.metadata == WiderFaceReader.metadata)
    #expect(dataset.records.map(\.fileName) == [
      "0--Parade/0_Parade_marchingband_1_5.jpg", "1--Handshaking/1_Handshaking_x_1.jpg", "1--Handshaking/1_Handshaking_x_2.jpg",
    ])
    #expect(dataset.records.map(\.width) == [80, 40, 80] && dataset.records.map(\.height) == [64, 30, 60])
    let first = dataset.records[0].instances
    #expect(first.map(\.box) == [Box(x1: 10, y1: 20, x2: 40, y2: 60), Box(x1: 50, y1: 5, x2: 60, y2: 17)])
    #expect(first.map(\.isCrowd) == [false, true])
    #expect(dataset.records[1].instances.isEmpty)
    #expect(dataset.records[2].instances.map(\.box) == [Box(x1: 70, y1: 50, x2: 80, y2: 60)])
    #expect(dataset.issues.map(\.kind) == [.degenerateBox, .boxOutsideImage, .invalidRecord])
    #expect(dataset.issues.map(\.record) == [
      "line 10 (1--Handshaking/1_Handshaking_x_2.jpg)", "line 11 (1--Handshaking/1_Handshaking_x_2.jpg)",
      "line 12 (1--Handshaking/1_Handshaking_x_2.jpg)",
    ])
    #expect(dataset.issues[0].file.hasSuffix("wider_face_split/wider_face_train_bbx_gt.txt"))
    guard case .folder(let images) = dataset.imageSource else { return }
    #expect(images.path.hasSuffix("WIDER_train/images"))
  }

  @Test func valSplitFromTheFileAndAMissingImage() throws {
    let root = try converterFixture("wider_face")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let file = root.appendingPathComponent("wider_face_split/wider_face_val_bbx_gt.txt")
    #expect(DatasetFormat.detect(annotations: file) == .widerFace)
    #expect(DatasetFormat.detect(annotations: root) == .widerFace)
    let dataset = try DatasetFormat.widerFace.read(annotations: file, images: nil, imageSet: nil)
    #expect(dataset.records.map(\.fileName) == ["2--Demonstration/2_Demonstration_1.jpg"])
    #expect(dataset.records[0].instances.map(\.box) == [Box(x1: 1, y1: 1, x2: 9, y2: 9)])
    #expect(dataset.issues.map(\.kind) == [.missingImage])
    #expect(throws: DataValidationError.self) { try DatasetFormat.widerFace.read(annotations: file, images: nil, imageSet: nil, policy: .fail) }
    let val = try DatasetFormat.widerFace.read(annotations: root, images: nil, imageSet: "val")
    #expect(val.records == dataset.records)
  }

  @Test func layoutsGiveTheImageFolder() throws {
    let root = try converterFixture("wider_face")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let val = try WiderFaceReader.files(at: root, split: "val")
    #expect(val.annotations.lastPathComponent == "wider_face_val_bbx_gt.txt" && val.images?.path.hasSuffix("WIDER_val/images") == true)
    let renamed = root.appendingPathComponent("faces.txt")
    try FileManager.default.copyItem(at: val.annotations, to: renamed)
    let error = #expect(throws: DatasetFormatError.self) { try DatasetFormat.widerFace.read(annotations: renamed, images: nil, imageSet: nil) }
    #expect(error?.description == "\(renamed.path): cannot tell where the images are from the file name: name the image folder")
    let dataset = try DatasetFormat.widerFace.read(annotations: renamed, images: val.images, imageSet: nil)
    #expect(dataset.records.count == 1)
  }

  @Test(arguments: [
    ("a.jpg\ntwo\n1 1 8 8 0 0 0 0 0 0\n", "line 2: expected the number of faces in a.jpg, found 'two'"),
    ("a.jpg\n0\nb.jpg\n1\n1 1 8 8 0 0 0 0 0 0\n", "line 3: an image with 0 faces is followed by one all-zero row, found 'b.jpg'"),
    ("a.jpg\n3\n1 1 8 8 0 0 0 0 0 0\n", "line 2: a.jpg has 3 faces but the file ends after 1 of them"),
    ("a.jpg\n", "line 2: expected the number of faces in a.jpg, found the end of the file"),
    ("a.jpg\n9223372036854775807\n0 0 0 0 0 0 0 0 0 0\n", "line 2: a.jpg has 9223372036854775807 faces but the file ends after 1 of them"),
  ])
  func brokenStructureIsAnErrorNamingTheLine(text: String, expected: String) throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("wider_face_train_bbx_gt.txt")
    try text.write(to: file, atomically: true, encoding: .utf8)
    let error = #expect(throws: DatasetFormatError.self) { try WiderFaceReader.read(annotations: file, images: folder) }
    #expect(error?.description == "\(file.path): \(expected)")
  }
}
