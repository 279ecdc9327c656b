import Foundation
import Testing

@testable import Data

/// Fixtures/dota/train: P0001 (120x80, imagesource and gsd header) a plane, a difficult ship as a
/// rotated diamond, a small vehicle reaching 5 pixels past the right edge, a large vehicle, a
/// container crane (not a v1.0 class), a line of 8 fields, a difficult flag 'x' and a harbor whose
/// corners coincide; P0002 (60x40, CRLF, `gsd:null`) a tennis court; P0003 has no image; P0004
/// is a JPEG (50x50) whose label file has no header and a 9-field line (no difficult flag).
@Suite struct DOTAReaderTests {
  static let plane = 0, smallVehicle = 4, largeVehicle = 5, ship = 6, tennisCourt = 7, helicopter = 14, containerCrane = 15

  @Test func axisAlignedBoxesDifficultAsIgnoreAndHeaderAttributes() throws {
    let root = try converterFixture("dota")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try DOTAReader.read(root: root)
    #expect(dataset.metadata.classNames.count == 15 && dataset.metadata.categories.map(\.id) == Array(1...15))
    #expect(dataset.records.map(\.fileName) == ["P0001.png", "P0002.png", "P0004.jpg"])
    #expect(dataset.records.map(\.imageId) == [0, 1, 3])
    #expect(dataset.records.map(\.width) == [120, 60, 50] && dataset.records.map(\.height) == [80, 40, 50])

    let first = dataset.records[0]
    #expect(first.attributes == ["imagesource": .string("GoogleEarth"), "gsd": .number(0.146343590398)])
    #expect(first.instances.map(\.label) == [Self.plane, Self.ship, Self.smallVehicle, Self.largeVehicle])
    #expect(first.instances.map(\.box) == [
      Box(x1: 10, y1: 10, x2: 30, y2: 20), Box(x1: 41, y1: 5, x2: 60, y2: 25), Box(x1: 100, y1: 60, x2: 120, y2: 75),
      Box(x1: 70, y1: 40, x2: 90, y2: 50),
    ])
    #expect(first.instances.map(\.isCrowd) == [false, true, false, false])
    // The corners are kept (unclipped) as the instance's polygon.
    #expect(first.instances[1].segmentation == .polygons([[50.5, 5, 60, 15, 50.5, 25, 41, 15]]))
    #expect(first.instances[2].segmentation == .polygons([[100, 60, 125, 60, 125, 75, 100, 75]]))

    #expect(dataset.records[1].attributes == ["imagesource": .string("GoogleEarth")])
    #expect(dataset.records[1].instances.map(\.box) == [Box(x1: 0, y1: 0, x2: 10, y2: 10)])
    #expect(dataset.records[1].instances.map(\.label) == [Self.tennisCourt])
    #expect(dataset.records[2].attributes.isEmpty)
    #expect(dataset.records[2].instances.map(\.box) == [Box(x1: 1.5, y1: 2.5, x2: 11.5, y2: 12.5)])
    #expect(dataset.records[2].instances.map(\.label) == [Self.helicopter] && dataset.records[2].instances[0].isCrowd == false)

    #expect(dataset.issues.map { "\($0.kind) \($0.record)" } == [
      "boxOutsideImage line 5", "unknownCategory line 7", "invalidRecord line 8", "invalidRecord line 9", "degenerateBox line 10",
      "missingImage image 2 (P0003.png)",
    ])
    #expect(dataset.issues[0].file == root.appendingPathComponent("train/labelTxt/P0001.txt").path)
    #expect(dataset.issues[1].detail == "'container-crane' is not a DOTA v1.0 class; it is a DOTA v1.5 class: choose that version (--dota-version, data.dota_version)")
    #expect(dataset.issues[2].detail == "expected 8 corner coordinates, a class and a difficult flag (9 or 10 fields), found 8")
    #expect(dataset.issues[3].detail == "difficult flag 'x', expected 0 or 1 (2 in split labels)")
    #expect(dataset.issues[4].detail == "the 4 corners enclose no area")
  }

  @Test func versionsChooseTheClassList() throws {
    let root = try converterFixture("dota")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let dataset = try DatasetFormat.dota.read(annotations: root.appendingPathComponent("train"), images: nil, imageSet: nil, dotaVersion: .v1_5)
    #expect(dataset.metadata.classNames.last == "container-crane")
    #expect(dataset.records[0].instances.map(\.label) == [Self.plane, Self.ship, Self.smallVehicle, Self.largeVehicle, Self.containerCrane])
    #expect(dataset.records[0].instances[4].box == Box(x1: 70, y1: 30, x2: 80, y2: 40))
    #expect(DOTAReader.Version.v2_0.classNames.suffix(3) == ["container-crane", "airport", "helipad"])
    #expect(DatasetFormat.detect(annotations: root) == .dota)
    #expect(DatasetFormat.dota.fixedMetadata(dotaVersion: .v2_0)?.classCount == 18)
    let error = #expect(throws: DataValidationError.self) { try DOTAReader.read(root: root, policy: .fail) }
    #expect(error?.issues.count == 6)
    #expect(throws: DatasetFormatError.self) { try DOTAReader.read(root: root, split: "val") }
  }

  /// ImgSplit's origins: every `size - overlap` pixels, the last moved back to the edge.
  @Test func patchOriginsFollowImgSplit() {
    let tiling = DOTATiling(size: 1024, overlap: 200)
    #expect(tiling.origins(length: 2000) == [0, 824, 976])
    #expect(tiling.origins(length: 1848) == [0, 824])
    #expect(tiling.origins(length: 1024) == [0])
    #expect(tiling.origins(length: 500) == [0])
    #expect(DOTATiling(size: 100, overlap: 100).problem != nil && DOTATiling(size: 100, overlap: 10, threshold: 0).problem != nil)
  }

  @Test func polygonsClipToRectangles() {
    let diamond: [Double] = [50.5, 5, 60, 15, 50.5, 25, 41, 15]
    #expect(Polygons.area(diamond) == 190)
    #expect(Polygons.area(Polygons.clipped(diamond, x1: 0, y1: 0, x2: 50.5, y2: 100)) == 95)
    #expect(Polygons.clipped(diamond, x1: 70, y1: 0, x2: 80, y2: 80).isEmpty)
    let square: [Double] = [70, 40, 90, 40, 90, 50, 70, 50]
    #expect(Polygons.clipped(square, x1: 0, y1: 0, x2: 80, y2: 80) == [70, 40, 80, 40, 80, 50, 70, 50])
    // Cut to a smaller square.
    let cut = Polygons.clipped([0, 0, 10, 0, 10, 10, 0, 10], x1: 0, y1: 0, x2: 8, y2: 8)
    #expect(Polygons.area(cut) == 64)
    #expect(Polygons.area(Polygons.clipped([0, 0, 10, 0, 0, 10], x1: 5, y1: 0, x2: 10, y2: 10)) == 12.5)
  }

  /// 80-pixel patches with 40 pixels of overlap: P0001 (120x80) gives patches at x 0 and 40, the
  /// others one patch each. The large vehicle (x 70-90) keeps half its area in the first patch:
  /// an ignore region there (difficult 2); the small vehicle keeps 300 of 375 px² (0.8 > 0.7) in
  /// the second and stays an object.
  @Test func tilingCutsImagesAndLabelsAsImgSplit() throws {
    let root = try converterFixture("dota")
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    // A picture whose value at (x, y) is x + y, to see where each patch was cut.
    var picture = Image(width: 120, height: 80, filledWith: [0])
    for y in 0..<80 { for x in 0..<120 { picture[x: x, y: y, channel: 0] = UInt8(x + y) } }
    try ImageCodec.encodePNG(picture).write(to: root.appendingPathComponent("train/images/P0001.png"))
    let out = root.deletingLastPathComponent().appendingPathComponent("split")
    let source = try DOTAReader.read(root: root)
    let tiles = try DOTAReader.tile(source, tiling: DOTATiling(size: 80, overlap: 40), output: out)

    #expect(tiles.records.map(\.fileName) == ["P0001__1__0___0.png", "P0001__1__40___0.png", "P0002__1__0___0.png", "P0004__1__0___0.png"])
    #expect(tiles.records.map(\.imageId) == [0, 1, 2, 3])
    #expect(tiles.records.map(\.width) == [80, 80, 60, 50] && tiles.records.map(\.height) == [80, 80, 40, 50])
    let left = tiles.records[0].instances
    #expect(left.map(\.label) == [Self.plane, Self.ship, Self.largeVehicle])
    #expect(left.map(\.box) == [Box(x1: 10, y1: 10, x2: 30, y2: 20), Box(x1: 41, y1: 5, x2: 60, y2: 25), Box(x1: 70, y1: 40, x2: 80, y2: 50)])
    #expect(left.map(\.isCrowd) == [false, true, true])
    let right = tiles.records[1].instances
    #expect(right.map(\.label) == [Self.ship, Self.smallVehicle, Self.largeVehicle])
    #expect(right.map(\.box) == [Box(x1: 1, y1: 5, x2: 20, y2: 25), Box(x1: 60, y1: 60, x2: 80, y2: 75), Box(x1: 30, y1: 40, x2: 50, y2: 50)])
    #expect(right.map(\.isCrowd) == [true, false, false])
    #expect(tiles.records[1].attributes["patch_origin"] == .numbers([40, 0]) && tiles.records[1].attributes["source_image"] == .string("P0001.png"))
    #expect(tiles.records[1].attributes["gsd"] == .number(0.146343590398))

    let labels = out.appendingPathComponent("labelTxt")
    #expect(try String(contentsOf: labels.appendingPathComponent("P0001__1__0___0.txt"), encoding: .utf8) == """
      imagesource:GoogleEarth
      gsd:0.146343590398
      10 10 30 10 30 20 10 20 plane 0
      50.5 5 60 15 50.5 25 41 15 ship 1
      70 40 80 40 80 50 70 50 large-vehicle 2

      """)
    #expect(try String(contentsOf: labels.appendingPathComponent("P0001__1__40___0.txt"), encoding: .utf8) == """
      imagesource:GoogleEarth
      gsd:0.146343590398
      10.5 5 20 15 10.5 25 1 15 ship 1
      60 60 80 60 80 75 60 75 small-vehicle 0
      30 40 50 40 50 50 30 50 large-vehicle 0

      """)
    #expect(try String(contentsOf: labels.appendingPathComponent("P0004__1__0___0.txt"), encoding: .utf8) == "1.5 2.5 11.5 2.5 11.5 12.5 1.5 12.5 helicopter 0\n")

    let patch = try ImageCodec.decode(contentsOf: out.appendingPathComponent("images/P0001__1__40___0.png"))
    #expect(patch.width == 80 && patch.height == 80 && patch.channels == 1)
    #expect(patch[x: 0, y: 0, channel: 0] == 40 && patch[x: 5, y: 7, channel: 0] == 52)

    // The patch folder is a DOTA folder again, with the same objects.
    let again = try DatasetFormat.dota.read(annotations: out, images: nil, imageSet: nil, policy: .fail)
    #expect(again.records.map(\.fileName) == tiles.records.map(\.fileName))
    #expect(again.records.map(\.instances) == tiles.records.map(\.instances))
  }
}
