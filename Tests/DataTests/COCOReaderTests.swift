import Foundation
import Masks
import Testing

@testable import Data

@Suite struct COCOReaderTests {
  /// A 60x50 mask with a 10x10 square, in COCO's compressed counts.
  static let square: RLE = {
    var mask = [UInt8](repeating: 0, count: 60 * 50)
    for y in 5..<15 { for x in 5..<15 { mask[y * 50 + x] = 1 } }
    return RLE(mask: mask, height: 60, width: 50, order: .rowMajor)
  }()

  static let valid = """
    {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80},
                {"id": 3, "file_name": "b.jpg", "width": 50, "height": 60}],
     "categories": [{"id": 18, "name": "dog", "supercategory": "animal"}, {"id": 1, "name": "person"}],
     "annotations": [
       {"id": 1, "image_id": 7, "category_id": 18, "bbox": [10, 20, 30, 40], "iscrowd": 0,
        "segmentation": [[10, 20, 40, 20, 40, 60, 10, 60]], "area": 1200},
       {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 100, 80], "iscrowd": 1,
        "segmentation": {"size": [80, 100], "counts": [0, 8000]}},
       {"id": 3, "image_id": 3, "category_id": 1, "bbox": [5, 5, 10, 10],
        "segmentation": {"size": [60, 50], "counts": "\(square.compressedCounts)"}}
     ]}
    """

  func read(_ text: String, policy: BadDataPolicy = .skip) throws -> Dataset {
    try COCOReader.read(data(text), file: "instances.json", imageSource: .folder(URL(fileURLWithPath: "/images")), policy: policy)
  }

  @Test func readsImagesCategoriesBoxesAndMasks() throws {
    let dataset = try read(Self.valid, policy: .fail)
    // Labels follow category ids: person (1) is 0, dog (18) is 1.
    #expect(dataset.metadata.classNames == ["person", "dog"])
    #expect(dataset.metadata.categoryId(forLabel: 1) == 18)
    #expect(dataset.metadata.label(forCategoryId: 18) == 1)
    #expect(dataset.records.map(\.imageId) == [7, 3])
    let first = dataset.records[0]
    #expect(first.fileName == "a.jpg" && first.width == 100 && first.height == 80)
    #expect(first.instances.count == 2)
    #expect(first.instances[0].box == Box(x1: 10, y1: 20, x2: 40, y2: 60))
    #expect(first.instances[0].label == 1 && !first.instances[0].isCrowd)
    #expect(first.instances[0].segmentation == .polygons([[10, 20, 40, 20, 40, 60, 10, 60]]))
    #expect(first.instances[1].isCrowd)
    #expect(first.instances[1].segmentation == .runLength(RLE(height: 80, width: 100, counts: [0, 8000])))
    #expect(first.instances[1].segmentation?.area(height: 80, width: 100) == 8000)
    guard case .runLength(let rle)? = dataset.records[1].instances[0].segmentation else {
      Issue.record("expected an RLE mask")
      return
    }
    #expect(rle == Self.square && rle.area == 100)
    #expect(dataset.issues.isEmpty)
  }

  @Test func roundTripsThroughTheWriter() throws {
    let dataset = try read(Self.valid)
    let written = try COCOWriter.encode(records: dataset.records, metadata: dataset.metadata)
    let again = try COCOReader.read(written, file: "again.json", imageSource: dataset.imageSource, policy: .fail)
    #expect(again.records == dataset.records)
    #expect(again.metadata == dataset.metadata)
  }

  /// Attributes (DeepLesion's spacing, DOTA's gsd) survive the writer and the reader; values of
  /// other kinds in a file from another tool are passed over.
  @Test func attributesRoundTrip() throws {
    var dataset = try read(Self.valid)
    dataset.records[0].attributes = ["spacing_mm": .numbers([0.7, 0.7, 5]), "source": .string("GoogleEarth"), "age": .number(62)]
    dataset.records[0].instances[0].attributes = ["lesion_type": .number(-1), "noisy": .bool(true)]
    let written = try COCOWriter.encode(records: dataset.records, metadata: dataset.metadata)
    let json = try #require(try JSONSerialization.jsonObject(with: written) as? [String: Any])
    let image = try #require((json["images"] as? [[String: Any]])?.first?["attributes"] as? [String: Any])
    #expect(image["source"] as? String == "GoogleEarth" && image["age"] as? Double == 62)
    let again = try COCOReader.read(written, file: "again.json", imageSource: dataset.imageSource, policy: .fail)
    #expect(again.records == dataset.records)

    let other = try read("""
      {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10, "attributes": {"tags": ["a"], "nested": {"x": 1}, "ok": 1}}],
       "categories": []}
      """)
    #expect(other.records[0].attributes == ["ok": .number(1)])
  }

  @Test(arguments: [
    ("{\"images\": [", "malformed JSON"),
    ("[]", "expected an object"),
    ("{\"categories\": []}", "missing field 'images'"),
    ("{\"images\": [], \"categories\": [{\"id\": \"one\", \"name\": \"x\"}]}", "categories[0].id"),
    ("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 10}], \"categories\": []}", "images[0]: missing field 'height'"),
    ("{\"images\": [], \"categories\": [], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3]}]}", "annotations[0].bbox: expected 4 numbers"),
    ("{\"images\": [], \"categories\": [], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"segmentation\": {\"size\": [2, 2], \"counts\": \"\\u0001\"}}]}", "segmentation.counts"),
  ])
  func malformedFilesAreRejectedWithTheirLocation(text: String, expected: String) throws {
    let error = #expect(throws: DatasetFormatError.self) { try read(text) }
    #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
    #expect(error?.description.hasPrefix("instances.json") == true)
  }

  static let bad = """
    {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                {"id": 1, "file_name": "again.jpg", "width": 100, "height": 100}],
     "categories": [{"id": 1, "name": "cat"}],
     "annotations": [
       {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]},
       {"id": 2, "image_id": 1, "category_id": 1, "bbox": [90, 90, 30, 30]},
       {"id": 3, "image_id": 1, "category_id": 99, "bbox": [10, 10, 5, 5]},
       {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, 5]},
       {"id": 4, "image_id": 42, "category_id": 1, "bbox": [10, 10, 5, 5]},
       {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}
     ]}
    """

  @Test func badRecordsAreReportedAndSkipped() throws {
    let dataset = try read(Self.bad)
    let kinds = dataset.issues.map(\.kind)
    #expect(kinds == [.duplicateImageId, .degenerateBox, .boxOutsideImage, .unknownCategory, .duplicateAnnotationId, .unknownImage])
    #expect(dataset.issues.allSatisfy { $0.file == "instances.json" })
    #expect(dataset.issues[1].record == "annotation 1 (image 1)")
    #expect(dataset.records.count == 1)
    // The box reaching outside is clipped; the good one stays.
    #expect(dataset.records[0].instances.map(\.box) == [Box(x1: 90, y1: 90, x2: 100, y2: 100), Box(x1: 1, y1: 1, x2: 6, y2: 6)])
  }

  /// Crashed FuzzCOCO: an image and RLE size of 2^32 × 2^32 overflowed the pixel
  /// count and trapped.
  @Test func sizesBeyondAnyImageAreReportedNotTrapped() throws {
    let text = """
      {"categories": [{"id": 1, "name": "a"}],
       "images": [{"id": 1, "file_name": "a.jpg", "width": 4294967296, "height": 4294967296}],
       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                        "segmentation": {"size": [4294967296, 4294967296], "counts": [1]}}]}
      """
    let dataset = try read(text)
    #expect(dataset.issues.map(\.kind) == [.invalidRecord])
    #expect(dataset.issues.first?.detail.contains("do not add up") == true)
    #expect(throws: DataValidationError.self) { try read(text, policy: .fail) }
  }

  @Test func polygonCornersFarOutsideTheImageAreReported() throws {
    let text = """
      {"categories": [{"id": 1, "name": "a"}], "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                        "segmentation": [[0, 0, 9000000, 0, 0, 1e300]]},
                       {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                        "segmentation": [[-4, -3, 8, -3, 8, 6]]}]}
      """
    let dataset = try read(text)
    #expect(dataset.issues.map(\.kind) == [.invalidRecord])
    #expect(dataset.issues.first?.detail.contains("more than the image's size (4x3) outside it") == true)
    #expect(dataset.records[0].instances.map(\.annotationId) == [2])
  }

  @Test func failPolicyStopsWithEveryProblem() throws {
    let error = #expect(throws: DataValidationError.self) { try read(Self.bad, policy: .fail) }
    #expect(error?.issues.count == 6)
    #expect(error?.description.contains("6 problems") == true)
  }
}
