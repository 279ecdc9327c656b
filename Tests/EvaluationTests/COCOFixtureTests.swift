import Evaluation
import Foundation
import Testing

let fixtureFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The expected output of one pycocotools run (tools/make_eval_fixtures.py).
struct ExpectedCase: Decodable, CustomTestStringConvertible, Sendable {
  var name: String
  var groundTruth: String
  var results: String
  var iouType: String
  var stats: [Double]
  var summary: String
  var categoryIds: [Int]
  var recall: [Double]
  /// `[t, r, k, a, m, value]`.
  var precisionSamples: [[Double]]
  var precisionSum: Double
  var perCategoryAP: [String: Double]
  var parameters: Parameters?

  struct Parameters: Decodable, Sendable {
    var imageIds: [Int]
    var categoryIds: [Int]
    var maxDets: [Int]
  }

  var testDescription: String { name }

  static let all: [ExpectedCase] = {
    let url = fixtureFolder.appendingPathComponent("cases.json")
    // swiftlint:disable:next force_try
    return try! JSONDecoder().decode([ExpectedCase].self, from: Data(contentsOf: url))
  }()
}

func evaluate(_ expected: ExpectedCase) throws -> COCOEvaluation {
  let groundTruth = try COCOGroundTruth(contentsOf: fixtureFolder.appendingPathComponent(expected.groundTruth))
  let detections = try COCOResultsFile.read(
    contentsOf: fixtureFolder.appendingPathComponent(expected.results), groundTruth: groundTruth)
  let iouType = try #require(IoUType(rawValue: expected.iouType))
  var parameters = COCOParameters.standard
  if let custom = expected.parameters {
    parameters.imageIDs = custom.imageIds
    parameters.categoryIDs = custom.categoryIds
    parameters.maxDetections = custom.maxDets
  }
  return try COCOEvaluator(groundTruth: groundTruth, iouType: iouType, parameters: parameters).evaluate(detections)
}

@Suite struct COCOFixtureTests {
  @Test(arguments: ExpectedCase.all)
  func statsMatchPycocotools(_ expected: ExpectedCase) throws {
    let evaluation = try evaluate(expected)
    for (name, (value, reference)) in zip(COCOStats.names, zip(evaluation.stats.values, expected.stats)) {
      #expect(abs(value - reference) <= 1e-12, "\(name): \(value) vs pycocotools \(reference)")
    }
  }

  @Test(arguments: ExpectedCase.all)
  func summaryTableMatchesPycocotools(_ expected: ExpectedCase) throws {
    #expect(try evaluate(expected).summaryTable == expected.summary)
  }

  @Test(arguments: ExpectedCase.all)
  func arraysMatchPycocotools(_ expected: ExpectedCase) throws {
    let evaluation = try evaluate(expected)
    #expect(evaluation.categoryIDs == expected.categoryIds)
    #expect(evaluation.precision.shape == [10, 101, expected.categoryIds.count, 4, 3])
    #expect(evaluation.recall.values.count == expected.recall.count)
    for (value, reference) in zip(evaluation.recall.values, expected.recall) {
      #expect(abs(value - reference) <= 1e-12)
    }
    for sample in expected.precisionSamples {
      let (t, r, k, a, m) = (Int(sample[0]), Int(sample[1]), Int(sample[2]), Int(sample[3]), Int(sample[4]))
      #expect(abs(evaluation.precision[t, r, k, a, m] - sample[5]) <= 1e-12, "precision[\(t), \(r), \(k), \(a), \(m)]")
    }
    let sum = evaluation.precision.values.reduce(0, +)
    #expect(abs(sum - expected.precisionSum) <= 1e-6)
  }

  @Test(arguments: ExpectedCase.all)
  func perCategoryAPMatchesPycocotools(_ expected: ExpectedCase) throws {
    let evaluation = try evaluate(expected)
    let byCategory = evaluation.averagePrecisionByCategory
    for (id, reference) in expected.perCategoryAP {
      let value = try #require(byCategory[Int(id)!])
      #expect(abs(value - reference) <= 1e-12, "category \(id)")
      if expected.parameters == nil {
        #expect(evaluation.stats(forCategory: Int(id)!)?.ap == value)
      }
    }
  }
}
