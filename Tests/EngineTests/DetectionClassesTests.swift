import Data
import Testing

@testable import Engine

@Suite struct DetectionClassesTests {
  @Test func aMismatchIsAnErrorNamingItsSource() {
    #expect(throws: EngineError.self) {
      try DetectionClasses(names: ["a", "b"], categoryIds: [1], source: "labels.json")
    }
    do {
      _ = try DetectionClasses(names: ["a", "b"], categoryIds: [1], source: "labels.json")
    } catch {
      #expect("\(error)" == "labels.json: 2 class names for 1 category ids")
    }
    #expect((try? DetectionClasses(names: ["a"], categoryIds: [7], source: "x"))?.categoryId(ofLabel: 1) == 7)
  }

  /// Labels that are the ids themselves, with N/A in the gaps; nil when the largest id does not
  /// make the model's class count.
  @Test func labelsMayBeCategoryIds() throws {
    let metadata = DatasetMetadata(categories: [.init(id: 1, name: "cat"), .init(id: 3, name: "dog")])
    let classes = try #require(DetectionClasses(labelledByCategoryId: metadata, modelClasses: 4))
    #expect(classes.names == ["cat", "N/A", "dog"])
    #expect(classes.categoryIds == [1, 2, 3])
    #expect(DetectionClasses(labelledByCategoryId: metadata, modelClasses: 5) == nil)
    #expect(classes.name(ofLabel: 0) == "__background__" && classes.name(ofLabel: 3) == "dog" && classes.name(ofLabel: 9) == "class 9")
  }

  @Test func cocoPresetsWithoutDataGetCOCONames() {
    #expect(DetectionClasses.torchvisionCOCO.count == 90)
    #expect(DetectionClasses.torchvisionCOCO.name(ofLabel: 82) == "refrigerator")
    #expect(DatasetMetadata.coco.classCount == 80)
  }
}
