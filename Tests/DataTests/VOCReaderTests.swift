import Foundation
import Testing

@testable import Data

@Suite struct VOCReaderTests {
  static func annotation(_ objects: String, file: String = "000001.jpg", width: Int = 200, height: Int = 100) -> String {
    """
    <annotation>
      <folder>VOC2007</folder><filename>\(file)</filename>
      <size><width>\(width)</width><height>\(height)</height><depth>3</depth></size>
      \(objects)
    </annotation>
    """
  }

  static func object(_ name: String, _ box: (Int, Int, Int, Int), difficult: Int = 0) -> String {
    "<object><name>\(name)</name><difficult>\(difficult)</difficult><bndbox><xmin>\(box.0)</xmin><ymin>\(box.1)</ymin><xmax>\(box.2)</xmax><ymax>\(box.3)</ymax></bndbox></object>"
  }

  /// A VOC folder with the given annotation files and an image-set list of all of them.
  func folder(_ files: [String: String]) throws -> URL {
    let root = try temporaryFolder()
    try FileManager.default.createDirectory(at: root.appendingPathComponent("Annotations"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: root.appendingPathComponent("ImageSets/Main"), withIntermediateDirectories: true)
    for (name, text) in files { try text.write(to: root.appendingPathComponent("Annotations/\(name).xml"), atomically: true, encoding: .utf8) }
    try files.keys.sorted().joined(separator: "\n").write(to: root.appendingPathComponent("ImageSets/Main/trainval.txt"), atomically: true, encoding: .utf8)
    return root
  }

  @Test func readsBoxesClassesAndDifficult() throws {
    let root = try folder([
      "000001": Self.annotation(Self.object("dog", (11, 21, 60, 80)) + Self.object("person", (1, 1, 200, 100), difficult: 1)),
      "000002": Self.annotation("", file: "000002.jpg", width: 50, height: 70),
    ])
    defer { try? FileManager.default.removeItem(at: root) }
    let dataset = try VOCReader.read(root: root, policy: .fail)
    #expect(dataset.metadata.classCount == 20)
    #expect(dataset.records.map(\.fileName) == ["000001.jpg", "000002.jpg"])
    let instances = dataset.records[0].instances
    // 1-based inclusive pixels become x1 = xmin - 1, x2 = xmax.
    #expect(instances[0].box == Box(x1: 10, y1: 20, x2: 60, y2: 80))
    #expect(instances[0].label == VOCReader.pascalClasses.firstIndex(of: "dog"))
    #expect(!instances[0].isDifficult && instances[1].isDifficult)
    #expect(instances[1].box == Box(x1: 0, y1: 0, x2: 200, y2: 100))
    #expect(dataset.records[1].width == 50 && dataset.records[1].instances.isEmpty)
    guard case .folder(let images) = dataset.imageSource else { return }
    #expect(images.lastPathComponent == "JPEGImages")
  }

  @Test func customClassListAndUnknownClasses() throws {
    let root = try folder(["a": Self.annotation(Self.object("widget", (1, 1, 10, 10)) + Self.object("gadget", (1, 1, 10, 10)))])
    defer { try? FileManager.default.removeItem(at: root) }
    let dataset = try VOCReader.read(root: root, classes: ["widget"])
    #expect(dataset.records[0].instances.count == 1)
    #expect(dataset.issues.map(\.kind) == [.unknownCategory])
    #expect(dataset.issues[0].file.hasSuffix("Annotations/a.xml"))
    #expect(throws: DataValidationError.self) { try VOCReader.read(root: root, classes: ["widget"], policy: .fail) }
  }

  @Test func badBoxesAreReported() throws {
    let root = try folder(["a": Self.annotation(Self.object("dog", (50, 10, 40, 20)) + Self.object("cat", (150, 50, 260, 90)))])
    defer { try? FileManager.default.removeItem(at: root) }
    let dataset = try VOCReader.read(root: root)
    #expect(dataset.issues.map(\.kind) == [.degenerateBox, .boxOutsideImage])
    #expect(dataset.records[0].instances.map(\.box) == [Box(x1: 149, y1: 49, x2: 200, y2: 90)])
  }

  @Test(arguments: [
    ("<annotation><filename>a.jpg</filename>", "malformed XML"),
    ("<notes/>", "expected <annotation>"),
    ("<annotation><filename>a.jpg</filename></annotation>", "missing <size>"),
    (annotation("<object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>x</xmax><ymax>5</ymax></bndbox></object>"), "bndbox.xmax: expected a number"),
    // Crashed FuzzVOC: an integer beyond Int trapped in the conversion (the second is the
    // fuzzer's own width, from a 10-minute run).
    ("<annotation><filename>a.jpg</filename><size><width>1e300</width><height>4</height></size></annotation>", "size.width: expected an integer"),
    (
      "<annotation><filename>3.png</filename><size><width>" + String(repeating: "8", count: 111) + "64</width><height>48</height></size></annotation>",
      "size.width: expected an integer"
    ),
  ])
  func malformedFilesAreRejected(text: String, expected: String) throws {
    let root = try folder(["bad": text])
    defer { try? FileManager.default.removeItem(at: root) }
    let error = #expect(throws: DatasetFormatError.self) { try VOCReader.read(root: root) }
    #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
    #expect(error?.file.hasSuffix("bad.xml") == true)
  }

  /// Found by fuzzing (Fuzzing/, FuzzVOC): Foundation's XML parser trapped on element and
  /// attribute names that are not UTF-8, including in a document that declares UTF-16.
  @Test(arguments: [
    Array("<annotation><".utf8) + [0xFF, 0xFF] + Array("></".utf8) + [0xFF, 0xFF] + Array("></annotation>".utf8),
    Array("<annotation><name ".utf8) + [0xFF] + Array("=\"1\">x</name></annotation>".utf8),
    Array("<?xml version=\"1.0\" encoding=\"UTF-16\"?><annotation><".utf8) + [0xFF, 0xFF] + Array("/></annotation>".utf8),
    [0xEF, 0xBB, 0xBF] + Array("<annotation><".utf8) + [0xFF, 0xFF] + Array("/></annotation>".utf8),
  ])
  func namesThatAreNotUTF8AreRejected(bytes: [UInt8]) throws {
    let root = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: root) }
    let file = root.appendingPathComponent("bad.xml")
    try Data(bytes).write(to: file)
    let error = #expect(throws: DatasetFormatError.self) { try VOCReader.read(annotationFiles: [file], images: root) }
    #expect(error?.description.contains("not UTF-8 text") == true, "\(error?.description ?? "")")
    #expect(error?.file == file.path)
  }

  /// Found by fuzzing (FuzzVOC; the first is its input): Foundation's XML parser read a null
  /// pointer for a processing instruction without data and for some DTD declarations.
  @Test(arguments: [
    ("<afolder\n\t<folder>eight>49<?xmltatio?>\n\t<fol/fgl</han>\n", "processing instructions"),
    ("<annotation><?x?></annotation>", "processing instructions"),
    ("<?xmlx?><annotation/>", "processing instructions"),
    ("<!DOCTYPE a [<!ELEMENT a ANY><!ATTLIST a b CDATA #IMPLIED>]><annotation/>", "document type declarations"),
    ("<!DOCTYPE a [<!NOTATION n SYSTEM \"x\">]><annotation/>", "document type declarations"),
  ])
  func markupFoundationMishandlesIsRejected(text: String, expected: String) throws {
    let root = try folder(["bad": text])
    defer { try? FileManager.default.removeItem(at: root) }
    let error = #expect(throws: DatasetFormatError.self) { try VOCReader.read(root: root) }
    #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
  }

  @Test func declaredLatin1IsConverted() throws {
    let root = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: root) }
    let file = root.appendingPathComponent("latin1.xml")
    let text = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + Self.annotation(Self.object("caf\u{E9}", (1, 1, 5, 5)))
    try #require(text.data(using: .isoLatin1)).write(to: file)
    let dataset = try VOCReader.read(annotationFiles: [file], images: root, classes: ["caf\u{E9}"], policy: .fail)
    #expect(dataset.records.first?.instances.map(\.label) == [0])
  }

  @Test func missingImageSetListIsAnError() throws {
    let root = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: root) }
    #expect(throws: DatasetFormatError.self) { try VOCReader.read(root: root) }
  }
}
