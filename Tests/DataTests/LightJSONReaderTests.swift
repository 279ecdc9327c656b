import Foundation
import Testing

@testable import Data

@Suite struct LightJSONReaderTests {
  func read(_ text: String, policy: BadDataPolicy = .skip) throws -> Dataset {
    try LightJSONReader.read(data(text), file: "mine.json", imageSource: .folder(URL(fileURLWithPath: "/images")), policy: policy)
  }

  @Test func readsTheDocumentedExample() throws {
    let dataset = try read(
      """
      {"categories": ["cat", "dog"],
       "images": [
         {"file": "a.jpg", "width": 640, "height": 480,
          "instances": [{"box": [10, 20, 110, 220], "category": "dog", "polygon": [[10, 20, 110, 20, 60, 220]]},
                        {"box": [0, 0, 5, 5], "category": "cat", "crowd": true}]},
         {"file": "b.jpg", "width": 300, "height": 400}
       ]}
      """, policy: .fail)
    #expect(dataset.metadata.classNames == ["cat", "dog"])
    #expect(dataset.records.count == 2)
    let a = dataset.records[0]
    #expect(a.imageId == 0 && a.fileName == "a.jpg" && a.width == 640)
    #expect(a.instances[0].box == Box(x1: 10, y1: 20, x2: 110, y2: 220))
    #expect(a.instances[0].label == 1)
    #expect(a.instances[0].segmentation == .polygons([[10, 20, 110, 20, 60, 220]]))
    #expect(a.instances[1].isCrowd && a.instances[1].segmentation == nil)
    #expect(dataset.records[1].instances.isEmpty && !dataset.records[1].isLandscape)
  }

  @Test func withoutACategoryListLabelsFollowSortedNames() throws {
    let dataset = try read(
      """
      {"images": [{"file": "a.jpg", "width": 10, "height": 10,
                   "instances": [{"box": [1, 1, 2, 2], "category": "zebra"}, {"box": [1, 1, 2, 2], "category": "ant"}]}]}
      """)
    #expect(dataset.metadata.classNames == ["ant", "zebra"])
    #expect(dataset.records[0].instances.map(\.label) == [1, 0])
  }

  @Test func badRecordsAreReported() throws {
    let text = """
      {"categories": ["cat"],
       "images": [{"file": "a.jpg", "width": 10, "height": 10,
                   "instances": [{"box": [5, 5, 5, 8], "category": "cat"}, {"box": [1, 1, 2, 2], "category": "dog"},
                                 {"box": [1, 1, 3, 3], "category": "cat", "polygon": [[1, 1, 2]]}]},
                  {"file": "a.jpg", "width": 10, "height": 10}]}
      """
    let dataset = try read(text)
    #expect(dataset.issues.map(\.kind) == [.degenerateBox, .unknownCategory, .invalidRecord, .duplicateImageId])
    #expect(dataset.issues[1].record == "image 0 (a.jpg) instance 1")
    #expect(dataset.records.count == 1 && dataset.records[0].instances.isEmpty)
    #expect(throws: DataValidationError.self) { try read(text, policy: .fail) }
  }

  @Test(arguments: [
    ("{\"images\": [{\"file\": \"a.jpg\", \"width\": 10, \"height\": 10, \"instances\": [{\"box\": [1, 2], \"category\": \"x\"}]}]}", "images[0].instances[0].box"),
    ("{\"images\": [{\"file\": 3, \"width\": 10, \"height\": 10}]}", "images[0].file: expected a string"),
    ("{\"images\": {}}", "images: expected an array"),
    ("{\"categories\": [\"a\", \"a\"], \"images\": []}", "listed twice"),
    ("{\"images\": [{\"file\": \"a.jpg\", \"width\": 10.5, \"height\": 10}]}", "expected an integer"),
    ("not json", "malformed JSON"),
  ])
  func malformedFilesAreRejected(text: String, expected: String) throws {
    let error = #expect(throws: DatasetFormatError.self) { try read(text) }
    #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
  }
}
