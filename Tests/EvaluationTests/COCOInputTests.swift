import Evaluation
import Foundation
import Masks
import Testing

private let groundTruthJSON = """
  {"images": [{"id": 1, "width": 100, "height": 80}, {"id": 2, "width": 50, "height": 50}],
   "categories": [{"id": 3, "name": "cat"}, {"id": 9, "name": "dog"}],
   "annotations": [
     {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0,
      "segmentation": [[10, 10, 50, 10, 50, 50, 10, 50]]},
     {"id": 2, "image_id": 2, "category_id": 9, "bbox": [0, 0, 20, 30], "area": 600, "iscrowd": false,
      "segmentation": {"size": [50, 50], "counts": [0, 30, 20, 30, 2420]}}
   ]}
  """

private func groundTruth() throws -> COCOGroundTruth {
  try COCOGroundTruth(json: Data(groundTruthJSON.utf8), sourceName: "gt.json")
}

private func readResults(_ json: String) throws -> [COCODetection] {
  try COCOResultsFile.decode(json: Data(json.utf8), groundTruth: groundTruth(), sourceName: "results.json")
}

private func message(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch {
    return "\(error)"
  }
}

@Suite struct COCOInputTests {
  @Test func perfectDetectionsScoreOne() throws {
    let detections = try readResults(
      """
      [{"image_id": 1, "category_id": 3, "bbox": [10, 10, 40, 40], "score": 0.9},
       {"image_id": 2, "category_id": 9, "bbox": [0, 0, 20, 30], "score": 0.8}]
      """)
    let stats = try COCOEvaluator(groundTruth: groundTruth(), iouType: .bbox).evaluate(detections).stats
    #expect(abs(stats.ap - 1) < 1e-12)
    #expect(stats.ar100 == 1)
    // No object is large, so the large-area numbers are undefined.
    #expect(stats.apLarge == -1)
    #expect(stats.arLarge == -1)
  }

  @Test func noDetectionsScoreZero() throws {
    let stats = try COCOEvaluator(groundTruth: groundTruth(), iouType: .segm).evaluate([]).stats
    #expect(stats.ap == 0)
    #expect(stats.ar100 == 0)
    #expect(stats.apLarge == -1)
  }

  @Test func maskEvaluationOfPolygonAndUncompressedGroundTruth() throws {
    let gt = try groundTruth()
    let square = RLE(polygons: [[10, 10, 50, 10, 50, 50, 10, 50]], height: 80, width: 100)
    let strip = RLE(height: 50, width: 50, counts: [0, 30, 20, 30, 2420])
    let detections = [
      COCODetection(imageID: 1, categoryID: 3, score: 0.9, mask: square),
      COCODetection(imageID: 2, categoryID: 9, score: 0.9, mask: strip),
    ]
    let stats = try COCOEvaluator(groundTruth: gt, iouType: .segm).evaluate(detections).stats
    #expect(abs(stats.ap - 1) < 1e-12)
  }

  @Test func unknownImageIsAnError() throws {
    let text = message {
      _ = try readResults(#"[{"image_id": 7, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]"#)
    }
    #expect(text == "results.json: [0]: image_id 7 is not in the ground truth")
  }

  @Test func unknownCategoryIsAnError() throws {
    let text = message {
      _ = try readResults(
        #"[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}, {"image_id": 1, "category_id": 4, "bbox": [1, 2, 3, 4], "score": 0.5}]"#
      )
    }
    #expect(text == "results.json: [1]: category_id 4 is not in the ground truth")
  }

  @Test(arguments: [
    (#"[1, 2, 3]"#, "results.json: [0]: bbox has 3 numbers, not 4 [x, y, width, height]"),
    (#"[10, 10, -5, 4]"#, "results.json: [0]: bbox has a negative width or height (-5.0, 4.0); boxes are [x, y, width, height]"),
    (#""x""#, nil),
  ])
  func badBoxesAreErrors(box: String, expected: String?) throws {
    let text = message {
      _ = try readResults(#"[{"image_id": 1, "category_id": 3, "bbox": \#(box), "score": 0.5}]"#)
    }
    let unwrapped = try #require(text)
    if let expected {
      #expect(unwrapped == expected)
    } else {
      #expect(unwrapped == "results.json: line 1: [0].bbox: expected an array of numbers")
    }
  }

  @Test func missingScoreNamesTheRecord() throws {
    let text = message { _ = try readResults(#"[{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]}]"#) }
    #expect(text == "results.json: line 1: [0].score: missing")
  }

  @Test func maskOfTheWrongSizeIsAnError() throws {
    let text = message {
      _ = try readResults(#"[{"image_id": 2, "category_id": 9, "segmentation": {"size": [5, 5], "counts": "0T0"}, "score": 0.5}]"#)
    }
    #expect(text == "results.json: [0]: segmentation size 5×5 differs from the image's 50×50")
  }

  @Test func inconsistentGroundTruthIsAnError() throws {
    let json = #"{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 5, "image_id": 2, "category_id": 1, "bbox": [0,0,1,1], "area": 1}]}"#
    let text = message { _ = try COCOGroundTruth(json: Data(json.utf8), sourceName: "gt.json") }
    #expect(text == "gt.json: annotations[0] (id 5): image_id 2 is not among the images")
  }

  @Test func truncatedResultsNameTheLine() throws {
    let text = message { _ = try readResults("[\n{\"image_id\": 1, \"category_id\": 3,\n\"bbox\": [1, 2") }
    #expect(text == "results.json: line 3: the file ends too early")
  }

  @Test func unknownKeysAndEscapesAreRead() throws {
    let detections = try readResults(
      #"[{"image_id": 1, "extra": {"a": [true, null, "x\"y"]}, "category_id": 3, "bbox": [1e0, 2.5, 3, 4], "score": 5E-1}]"#)
    #expect(detections.first?.box == BoundingBox(x: 1, y: 2.5, width: 3, height: 4))
    #expect(detections.first?.score == 0.5)
  }

  @Test func malformedJSONIsAnError() throws {
    let text = message { _ = try COCOGroundTruth(json: Data("{\"images\": [".utf8), sourceName: "gt.json") }
    #expect(text?.hasPrefix("gt.json: ") == true)
  }

  @Test func resultsRoundTripWithOriginalCategoryIDs() throws {
    let gt = try groundTruth()
    let categories = CategoryMap(groundTruth: gt)
    #expect(categories.categoryIDs == [3, 9])
    #expect(categories.label(forCategoryID: 9) == 1)
    let mask = RLE(polygons: [[0, 0, 20, 0, 20, 30, 0, 30]], height: 50, width: 50)
    let detections = COCOResultsFile.detections(
      imageID: 2, boxes: [BoundingBox(x1: 0, y1: 0, x2: 20, y2: 30)], scores: [0.75], labels: [1], masks: [mask],
      categories: categories)
    #expect(detections[0].categoryID == 9)
    let data = COCOResultsFile.encode(detections)
    let back = try COCOResultsFile.decode(json: data, groundTruth: gt)
    #expect(back.count == 1)
    #expect(back[0].categoryID == 9)
    #expect(back[0].box == BoundingBox(x: 0, y: 0, width: 20, height: 30))
    #expect(back[0].score == 0.75)
    #expect(back[0].segmentation == .mask(mask))
    // The first record has a box, so areas are box areas as in pycocotools' loadRes.
    #expect(back[0].area == 600)
  }

  /// Crashed FuzzCOCOEvaluation: an image and mask size of 2^32 × 2^32
  /// overflowed the pixel count and trapped.
  @Test func sizesBeyondAnyImageAreAnErrorNotATrap() throws {
    let json = """
      {"images": [{"id": 1, "width": 4294967296, "height": 4294967296}], "categories": [{"id": 1}],
       "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                        "segmentation": {"size": [4294967296, 4294967296], "counts": [1]}}]}
      """
    let found = message { _ = try COCOGroundTruth(json: Data(json.utf8), sourceName: "gt.json") }
    #expect(found?.contains("gt.json") == true, "\(found ?? "no error")")
    #expect(found?.contains("run lengths do not add up") == true)
  }

  /// Took FuzzCOCOEvaluation past its 2 GB limit: corners millions of pixels off a small image made
  /// rasterising the polygon (for its area) store an outline of that length.
  @Test func polygonCornersFarOutsideTheImageAreAnError() throws {
    let json = """
      [{"image_id": 1, "category_id": 3, "score": 1,
        "segmentation": [[0, 0, 9000000, 0, 0, 9000000, 9000000, 9000000, 0, 1, 9000000, 5]]}]
      """
    let found = message { _ = try readResults(json) }
    #expect(found?.contains("results.json") == true, "\(found ?? "no error")")
    #expect(found?.contains("more than the image's size (100×80) outside it") == true)
    // Within the image's size around it, corners are rasterised (and clipped) as pycocotools does.
    let near = try readResults(#"[{"image_id": 1, "category_id": 3, "score": 1, "segmentation": [[-90, -70, 190, -70, 190, 150]]}]"#)
    #expect(near.count == 1 && (near[0].area ?? 0) > 0)
  }

  /// Overflowed the stack of FuzzCOCOEvaluation: an unknown field is skipped, and skipping
  /// recursed once per level of nesting.
  @Test func deeplyNestedUnknownFieldIsAnError() throws {
    let json = #"[{"image_id": 1, "x": "# + String(repeating: "[", count: 200_000)
    let found = message { _ = try readResults(json) }
    #expect(found?.contains("results.json") == true, "\(found ?? "no error")")
    #expect(found?.contains("nested more than 512 deep") == true)
  }

  @Test func statsJSONHasTheTwelveKeysInOrder() {
    let stats = COCOStats(values: [0.5, 0.25, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    #expect(stats.json.hasPrefix(#"{"AP": 0.5, "AP50": 0.25, "AP75": -1.0, "APs": 0.0"#))
    #expect(stats["ARl"] == 0)
  }
}
