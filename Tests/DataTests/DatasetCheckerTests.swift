import Foundation
import Testing

@testable import Data

@Suite struct DatasetCheckerTests {
  /// A shapes COCO folder with one image truncated, one removed, one of the wrong size and one
  /// not an image at all.
  func brokenFolder() throws -> (URL, Dataset) {
    let folder = try temporaryFolder()
    let annotations = try ShapesDataset(imageCount: 8, seed: 9).exportCOCO(to: folder, imageFormat: .png)
    func path(_ i: Int) -> URL { folder.appendingPathComponent(ShapesDataset.fileName(i, format: .png)) }
    let whole = try Data(contentsOf: path(1))
    try whole.prefix(whole.count - 200).write(to: path(1))
    try FileManager.default.removeItem(at: path(2))
    try FileManager.default.removeItem(at: path(7))
    try FileManager.default.copyItem(at: path(0), to: path(7))
    try Data("hello".utf8).write(to: path(5))
    return (folder, try COCOReader.read(annotations: annotations, images: folder))
  }

  @Test func reportsEachImageProblemWithFileAndRecord() throws {
    let (folder, dataset) = try brokenFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let issues = DatasetChecker(depth: .full).imageIssues(in: dataset)
    #expect(issues.map(\.kind) == [.corruptImage, .missingImage, .corruptImage, .sizeMismatch])
    #expect(issues.map(\.record) == ["image 1 (images/000001.png)", "image 2 (images/000002.png)", "image 5 (images/000005.png)", "image 7 (images/000007.png)"])
    #expect(issues[0].file.hasSuffix("images/000001.png"))
    #expect(issues[3].detail.contains("the annotation says"))
    // Reading headers alone misses the truncated pixel data.
    let quick = DatasetChecker(depth: .headers).imageIssues(in: dataset)
    #expect(quick.map(\.kind) == [.missingImage, .corruptImage, .sizeMismatch])
  }

  @Test func validationSkipsOrFailsByPolicy() throws {
    let (folder, dataset) = try brokenFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let kept = try DatasetChecker().validated(dataset, policy: .skip)
    #expect(kept.records.map(\.imageId) == [0, 3, 4, 6])
    #expect(kept.issues.count == 4)
    let error = #expect(throws: DataValidationError.self) { try DatasetChecker().validated(dataset, policy: .fail) }
    #expect(error?.issues.count == 4)
  }

  @Test func statisticsCountWhatIsThere() throws {
    let dataset = ShapesDataset(imageCount: 10, seed: 1).dataset
    let stats = DatasetStatistics(dataset)
    #expect(stats.imageCount == 10)
    #expect(stats.instanceCount == dataset.records.reduce(0) { $0 + $1.instances.count })
    #expect(stats.instancesPerClass.reduce(0, +) == stats.instanceCount)
    #expect(stats.smallCount + stats.mediumCount + stats.largeCount == stats.instanceCount)
    #expect(stats.widths!.lowerBound >= 256 && stats.heights!.upperBound <= 384)
  }

  @Test func detectsTheFormat() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let coco = folder.appendingPathComponent("coco.json")
    try data("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}]}").write(to: coco)
    let light = folder.appendingPathComponent("light.json")
    try data("{\"images\": [{\"file\": \"a.jpg\"}]}").write(to: light)
    #expect(DatasetFormat.detect(annotations: coco) == .coco)
    #expect(DatasetFormat.detect(annotations: light) == .lightJSON)
    #expect(DatasetFormat.detect(annotations: folder) == .voc)
    #expect(DatasetFormat.detect(annotations: folder.appendingPathComponent("none.json")) == nil)
  }
}
