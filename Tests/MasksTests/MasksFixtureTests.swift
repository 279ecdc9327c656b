import Foundation
import Masks
import Testing

/// Cases written by tools/make_eval_fixtures.py with pycocotools.mask as the reference.
struct MaskFixtures: Decodable {
  struct Encoded: Decodable {
    var height: Int
    var width: Int
    var mask: String?
    var counts: [UInt32]
    var string: String
    var area: Int
    var bbox: [Double]
  }
  struct Uncompressed: Decodable {
    var height: Int
    var width: Int
    var counts: [UInt32]
    var string: String
    var area: Int
    var bbox: [Double]
  }
  struct Polygons: Decodable {
    var height: Int
    var width: Int
    var polygons: [[Double]]
    var parts: [String]
    var merged: String
    var area: Int
    var bbox: [Double]
  }
  struct Box: Decodable {
    var height: Int
    var width: Int
    var box: [Double]
    var string: String
  }
  struct Merge: Decodable {
    var height: Int
    var width: Int
    var inputs: [String]
    var union: String
    var intersection: String
  }
  struct MaskIoU: Decodable {
    var height: Int
    var width: Int
    var detections: [String]
    var groundTruths: [String]
    var isCrowd: [Int]
    var iou: [[Double]]
  }
  struct BoxIoU: Decodable {
    var detections: [[Double]]
    var groundTruths: [[Double]]
    var isCrowd: [Int]
    var iou: [[Double]]
  }

  var encode: [Encoded]
  var uncompressed: [Uncompressed]
  var polygons: [Polygons]
  var boxes: [Box]
  var merge: [Merge]
  var iou: [MaskIoU]
  var box_iou: [BoxIoU]

  static let shared: MaskFixtures = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/masks.json")
    // swiftlint:disable:next force_try
    return try! JSONDecoder().decode(MaskFixtures.self, from: Data(contentsOf: url))
  }()
}

func box(_ values: [Double]) -> BoundingBox {
  BoundingBox(x: values[0], y: values[1], width: values[2], height: values[3])
}

func rle(_ string: String, _ height: Int, _ width: Int) throws -> RLE {
  try RLE(height: height, width: width, compressedCounts: string)
}

@Suite struct MasksFixtureTests {
  let fixtures = MaskFixtures.shared

  @Test func encodeMatchesPycocotools() throws {
    for item in fixtures.encode {
      let fromString = try rle(item.string, item.height, item.width)
      #expect(fromString.counts == item.counts, "\(item.height)×\(item.width)")
      #expect(RLE(height: item.height, width: item.width, counts: item.counts).compressedCounts == item.string)
      #expect(fromString.area == item.area)
      #expect(fromString.boundingBox == box(item.bbox))
      #expect(fromString.coversImage)
      guard let text = item.mask else { continue }
      let pixels = text.utf8.map { $0 == UInt8(ascii: "1") ? UInt8(1) : 0 }
      let encoded = RLE(mask: pixels, height: item.height, width: item.width)
      #expect(encoded.counts == item.counts)
      #expect(encoded.decoded() == pixels)
    }
  }

  @Test func rowMajorRoundTrip() {
    // 2×3, row-major: row 0 = 1 0 1, row 1 = 1 1 0; column-major that is 1 1 0 1 1 0.
    let rowMajor: [UInt8] = [1, 0, 1, 1, 1, 0]
    let mask = RLE(mask: rowMajor, height: 2, width: 3, order: .rowMajor)
    #expect(mask.counts == [0, 2, 1, 2, 1])
    #expect(mask.decoded(order: .rowMajor) == rowMajor)
    #expect(mask.decoded(order: .columnMajor) == [1, 1, 0, 1, 1, 0])
  }

  @Test func uncompressedCountsMatchPycocotools() throws {
    for item in fixtures.uncompressed {
      let mask = RLE(height: item.height, width: item.width, counts: item.counts)
      #expect(mask.compressedCounts == item.string, "\(item.counts)")
      #expect(mask.area == item.area, "\(item.counts)")
      #expect(mask.boundingBox == box(item.bbox), "\(item.counts)")
    }
  }

  @Test func polygonsRasteriseLikePycocotools() throws {
    for (index, item) in fixtures.polygons.enumerated() {
      let parts = item.polygons.map { RLE(polygon: $0, height: item.height, width: item.width) }
      #expect(parts.map(\.compressedCounts) == item.parts, "case \(index)")
      let merged = RLE(polygons: item.polygons, height: item.height, width: item.width)
      #expect(merged.compressedCounts == item.merged, "case \(index)")
      #expect(merged.area == item.area)
      #expect(merged.boundingBox == box(item.bbox))
      #expect(merged.coversImage)
    }
  }

  @Test func boxesRasteriseLikePycocotools() {
    for item in fixtures.boxes {
      #expect(RLE(box: box(item.box), height: item.height, width: item.width).compressedCounts == item.string, "\(item.box)")
    }
  }

  @Test func mergeMatchesPycocotools() throws {
    for item in fixtures.merge {
      let inputs = try item.inputs.map { try rle($0, item.height, item.width) }
      #expect(RLE.union(inputs).compressedCounts == item.union)
      #expect(RLE.intersection(inputs).compressedCounts == item.intersection)
    }
  }

  @Test func maskIoUMatchesPycocotools() throws {
    for item in fixtures.iou {
      let detections = try item.detections.map { try rle($0, item.height, item.width) }
      let groundTruths = try item.groundTruths.map { try rle($0, item.height, item.width) }
      let matrix = Overlap.iou(detections: detections, groundTruths: groundTruths, isCrowd: item.isCrowd.map { $0 != 0 })
      for d in detections.indices {
        for g in groundTruths.indices {
          #expect(matrix[d, g] == item.iou[d][g])
        }
      }
    }
  }

  @Test func boxIoUMatchesPycocotools() {
    for item in fixtures.box_iou {
      let matrix = Overlap.iou(
        detections: item.detections.map(box), groundTruths: item.groundTruths.map(box), isCrowd: item.isCrowd.map { $0 != 0 })
      for d in item.detections.indices {
        for g in item.groundTruths.indices {
          #expect(matrix[d, g] == item.iou[d][g])
        }
      }
    }
  }
}

@Suite struct MasksEdgeCaseTests {
  @Test func malformedCompressedCountsThrow() {
    #expect(throws: CompressedCountsError.self) { try RLE(height: 2, width: 2, compressedCounts: "0 ") }
    // 'P' (80) has the continuation bit set, so the string ends inside a number.
    #expect(throws: CompressedCountsError.self) { try RLE(height: 2, width: 2, compressedCounts: "P") }
  }

  @Test func sizeMismatchGivesMinusOne() {
    let a = RLE(height: 2, width: 2, counts: [0, 4])
    let b = RLE(height: 4, width: 1, counts: [0, 4])
    #expect(Overlap.maskIoU(a, b, isCrowd: false) == -1)
  }

  @Test func crowdOverlapUsesDetectionArea() {
    let detection = RLE(height: 1, width: 4, counts: [0, 2, 2])
    let crowd = RLE(height: 1, width: 4, counts: [0, 4])
    #expect(Overlap.maskIoU(detection, crowd, isCrowd: true) == 1)
    #expect(Overlap.maskIoU(detection, crowd, isCrowd: false) == 0.5)
  }
}
