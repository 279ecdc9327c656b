import Foundation
import Testing
@testable import Detection

/// `ensemble(_:weights:method:skipBelow:)` against ensemble-boxes 1.0.9 on the detections of
/// three models (tools/make_ensemble_fixtures.py): the same boxes, labels and order, coordinates
/// and scores within 1e-5 (ensemble-boxes accumulates fused boxes in float32).
@Suite struct EnsembleTests {
  struct Output: Decodable {
    var boxes: [[Double]]
    var scores: [Double]
    var labels: [Int]
  }

  struct Case: Decodable {
    var boxes: [[[Double]]]
    var scores: [[Double]]
    var labels: [[Int]]
    var weights: [Double]?
    var skip_box_thr: Double
    var iou_thr: Double
    var outputs: [String: Output]
  }

  struct Fixture: Decodable { var cases: [Case] }

  static let fixture: Fixture = try! JSONDecoder().decode(
    Fixture.self, from: Data(contentsOf: fixtureURL("ensemble_boxes.json")))

  static let methods = ["nms", "nmw", "wbf"]

  @Test(arguments: methods)
  func agreesWithEnsembleBoxes(method name: String) {
    for (index, c) in Self.fixture.cases.enumerated() {
      let models = (0..<c.boxes.count).map { m in
        (0..<c.boxes[m].count).map { i in
          let b = c.boxes[m][i]
          return EnsembleBox(x1: b[0], y1: b[1], x2: b[2], y2: b[3], score: c.scores[m][i], label: c.labels[m][i])
        }
      }
      let method: EnsembleMethod =
        switch name {
        case "nms": .nms(iouThreshold: c.iou_thr)
        case "nmw": .nonMaximumWeighted(iouThreshold: c.iou_thr)
        default: .weightedBoxesFusion(iouThreshold: c.iou_thr)
        }
      let ours = ensemble(models, weights: c.weights, method: method, skipBelow: c.skip_box_thr)
      let expected = c.outputs[name]!
      #expect(ours.map(\.label) == expected.labels, "case \(index) \(name): labels")
      guard ours.count == expected.scores.count else { continue }
      let scoreError = zip(ours.map(\.score), expected.scores).map { Swift.abs($0 - $1) }.max() ?? 0
      let boxError = zip(ours, expected.boxes).map { o, e in
        [o.x1 - e[0], o.y1 - e[1], o.x2 - e[2], o.y2 - e[3]].map(Swift.abs).max()!
      }.max() ?? 0
      #expect(scoreError < 1e-5 && boxError < 1e-5, "case \(index) \(name): scores \(scoreError), boxes \(boxError)")
    }
  }

  @Test func fusionAveragesAClusterByScore() {
    let a = EnsembleBox(x1: 0, y1: 0, x2: 10, y2: 10, score: 0.9, label: 1)
    let b = EnsembleBox(x1: 1, y1: 1, x2: 11, y2: 11, score: 0.3, label: 1)
    let fused = ensemble([[a], [b]], method: .weightedBoxesFusion(iouThreshold: 0.55))
    #expect(fused.count == 1)
    #expect(Swift.abs(fused[0].x1 - 0.25) < 1e-12 && Swift.abs(fused[0].x2 - 10.25) < 1e-12)
    // Mean score 0.6, both models present: × min(2, 2) / 2.
    #expect(Swift.abs(fused[0].score - 0.6) < 1e-12)
    // One model alone halves the score of what only it saw.
    let lonely = ensemble([[a], []], method: .weightedBoxesFusion(iouThreshold: 0.55))
    #expect(Swift.abs(lonely[0].score - 0.45) < 1e-12)
  }
}
