import Evaluation
import Foundation
import Testing

@Suite struct VOCTests {
  /// Two objects of class 0, one of them difficult; three detections.
  /// By score: d1 hits the normal object (TP), d2 hits the difficult one (ignored), d3 misses (FP).
  /// Recall [1, 1], precision [1, 0.5] → 11-point AP 1, area AP 1.
  @Test func difficultObjectsAreIgnored() {
    let objects = [
      VOCObject(imageID: 0, classID: 0, box: VOCBox(x1: 0, y1: 0, x2: 9, y2: 9)),
      VOCObject(imageID: 0, classID: 0, box: VOCBox(x1: 20, y1: 20, x2: 29, y2: 29), difficult: true),
    ]
    let detections = [
      VOCDetection(imageID: 0, classID: 0, score: 0.9, box: VOCBox(x1: 0, y1: 0, x2: 9, y2: 9)),
      VOCDetection(imageID: 0, classID: 0, score: 0.8, box: VOCBox(x1: 20, y1: 20, x2: 29, y2: 29)),
      VOCDetection(imageID: 0, classID: 0, score: 0.7, box: VOCBox(x1: 50, y1: 50, x2: 59, y2: 59)),
    ]
    for method in [VOCEvaluator.Method.elevenPoint, .area] {
      let result = VOCEvaluator(method: method).evaluate(objects: objects, detections: detections)
      #expect(abs(result.averagePrecision[0]! - 1) < 1e-12)
      #expect(abs(result.meanAveragePrecision - 1) < 1e-12)
    }
  }

  /// One object, two detections: a false positive scored higher than the hit.
  /// Recall [0, 1], precision [0, 0.5]: area AP = 0.5; 11-point AP = 11 × 0.5 / 11 = 0.5.
  /// A duplicate hit afterwards is a false positive and changes neither.
  @Test func falsePositiveFirstHalvesAP() {
    let objects = [VOCObject(imageID: 3, classID: 1, box: VOCBox(x1: 10, y1: 10, x2: 49, y2: 49))]
    let detections = [
      VOCDetection(imageID: 3, classID: 1, score: 0.9, box: VOCBox(x1: 100, y1: 100, x2: 120, y2: 120)),
      VOCDetection(imageID: 3, classID: 1, score: 0.8, box: VOCBox(x1: 12, y1: 10, x2: 49, y2: 49)),
      VOCDetection(imageID: 3, classID: 1, score: 0.7, box: VOCBox(x1: 10, y1: 10, x2: 49, y2: 49)),
    ]
    #expect(abs(VOCEvaluator(method: .area).evaluate(objects: objects, detections: detections).averagePrecision[1]! - 0.5) < 1e-12)
    #expect(abs(VOCEvaluator(method: .elevenPoint).evaluate(objects: objects, detections: detections).averagePrecision[1]! - 0.5) < 1e-12)
  }

  /// Inclusive pixels: boxes [0, 9] and [5, 14] are 10 wide and overlap by 5 → IoU 50/150 = 1/3.
  @Test func overlapThresholdIsStrict() {
    let objects = [VOCObject(imageID: 0, classID: 0, box: VOCBox(x1: 0, y1: 0, x2: 9, y2: 9))]
    let detections = [VOCDetection(imageID: 0, classID: 0, score: 1, box: VOCBox(x1: 5, y1: 0, x2: 14, y2: 9))]
    #expect(VOCEvaluator(iouThreshold: 0.3).evaluate(objects: objects, detections: detections).averagePrecision[0] == 1)
    #expect(VOCEvaluator(iouThreshold: 1.0 / 3).evaluate(objects: objects, detections: detections).averagePrecision[0] == 0)
  }

  @Test func classWithoutObjectsHasNoAP() {
    let objects = [VOCObject(imageID: 0, classID: 0, box: VOCBox(x1: 0, y1: 0, x2: 9, y2: 9))]
    let detections = [VOCDetection(imageID: 0, classID: 2, score: 1, box: VOCBox(x1: 0, y1: 0, x2: 9, y2: 9))]
    let result = VOCEvaluator().evaluate(objects: objects, detections: detections)
    #expect(result.averagePrecision[0] == 0)
    #expect(result.averagePrecision[2] == nil)
    #expect(result.meanAveragePrecision == 0)
  }

  struct Case: Decodable {
    var iouThreshold: Double
    var inclusivePixels: Bool
    /// `[image, class, x1, y1, x2, y2, difficult]`.
    var groundTruths: [[JSONNumberOrBool]]
    /// `[image, class, score, x1, y1, x2, y2]`.
    var detections: [[Double]]
    var expected: [String: [String: Double?]]
  }

  enum JSONNumberOrBool: Decodable {
    case number(Double)
    case flag(Bool)
    init(from decoder: any Decoder) throws {
      let single = try decoder.singleValueContainer()
      if let flag = try? single.decode(Bool.self) { self = .flag(flag) } else { self = .number(try single.decode(Double.self)) }
    }
    var number: Double { if case .number(let v) = self { v } else { 0 } }
    var flag: Bool { if case .flag(let v) = self { v } else { false } }
  }

  @Test func matchesReferenceImplementation() throws {
    let url = fixtureFolder.appendingPathComponent("voc.json")
    let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    for item in cases {
      let objects = item.groundTruths.map {
        VOCObject(
          imageID: Int($0[0].number), classID: Int($0[1].number),
          box: VOCBox(x1: $0[2].number, y1: $0[3].number, x2: $0[4].number, y2: $0[5].number), difficult: $0[6].flag)
      }
      let detections = item.detections.map {
        VOCDetection(imageID: Int($0[0]), classID: Int($0[1]), score: $0[2], box: VOCBox(x1: $0[3], y1: $0[4], x2: $0[5], y2: $0[6]))
      }
      for (method, name) in [(VOCEvaluator.Method.elevenPoint, "elevenPoint"), (.area, "area")] {
        let evaluator = VOCEvaluator(iouThreshold: item.iouThreshold, method: method, inclusivePixels: item.inclusivePixels)
        let result = evaluator.evaluate(objects: objects, detections: detections)
        for (classID, reference) in try #require(item.expected[name]) {
          let value = result.averagePrecision[Int(classID)!]
          if let reference {
            #expect(abs((value ?? -1) - reference) < 1e-12, "\(name) class \(classID)")
          } else {
            #expect(value == nil)
          }
        }
      }
    }
  }
}
