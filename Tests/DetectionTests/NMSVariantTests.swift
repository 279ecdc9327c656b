import Foundation
import Testing
@testable import Detection
@testable import Torch

/// Soft-NMS and weighted NMS on cases worked out by hand, and soft-NMS against a plain port of
/// mmcv's CPU loop (`softnms_cpu`: repeated arg-max, decay, drop below the floor) on random boxes.
@Suite struct NMSVariantTests {
  // A and B overlap with IoU 90/110; C is apart.
  let boxes = Tensor([Float(0), 0, 10, 10, 1, 0, 11, 10, 20, 20, 30, 30], shape: [3, 4])
  let scores = Tensor([Float(0.9), 0.8, 0.7])
  let oneGroup = Tensor([Int64(1), 1, 1])
  let iouAB = 90.0 / 110.0

  func run(_ method: NMSMethod, groups: Tensor? = nil) -> (indices: [Int], scores: [Double], boxes: [Float]) {
    let r = method.apply(boxes: boxes, scores: scores, groups: groups ?? oneGroup)
    return (r.indices.toArray(Int.self), r.scores.to(.float64).toArray(Double.self), r.boxes.toArray(Float.self))
  }

  @Test func linearSoftNMSDecaysByOneMinusIoUAboveTheThreshold() {
    let r = run(.soft(.linear(iouThreshold: 0.3), minScore: 0.001))
    #expect(r.indices == [0, 2, 1])
    #expect(Swift.abs(r.scores[2] - 0.8 * (1 - iouAB)) < 1e-6 && r.scores[0] == Double(Float(0.9)) && r.scores[1] == Double(Float(0.7)))
    // Below the threshold nothing decays; a floor above the decayed score drops the box.
    #expect(run(.soft(.linear(iouThreshold: 0.9), minScore: 0.001)).scores[1] == Double(Float(0.8)))
    #expect(run(.soft(.linear(iouThreshold: 0.3), minScore: 0.2)).indices == [0, 2])
  }

  @Test func gaussianSoftNMSDecaysEveryOverlap() {
    let r = run(.soft(.gaussian(sigma: 0.5), minScore: 0.001))
    #expect(r.indices == [0, 2, 1])
    #expect(Swift.abs(r.scores[2] - 0.8 * Foundation.exp(-iouAB * iouAB / 0.5)) < 1e-6)
  }

  @Test func degenerateBoxesOverlapNothing() {
    let flat = Tensor([Float(5), 5, 5, 5, 5, 5, 5, 5, 0, 0, 10, 10], shape: [3, 4])
    for method in [NMSMethod.soft(.gaussian(sigma: 0.5), minScore: 0.001), .weighted(iouThreshold: 0.5, votingThreshold: 0.8)] {
      let r = method.apply(boxes: flat, scores: scores, groups: oneGroup)
      let values = r.scores.toArray(Float.self) + r.boxes.toArray(Float.self)
      #expect(r.indices.shape[0] == 3 && values.allSatisfy(\.isFinite), "\(method)")
    }
  }

  @Test func groupsNeverDecayEachOther() {
    let r = run(.soft(.linear(iouThreshold: 0.3), minScore: 0.001), groups: Tensor([Int64(1), 2, 1]))
    #expect(r.indices == [0, 1, 2] && r.scores[1] == Double(Float(0.8)))
  }

  @Test func weightedNMSFusesTheVotersAndDropsTheOverlaps() {
    // B overlaps A by 0.82: above the voting threshold and the NMS threshold.
    let r = run(.weighted(iouThreshold: 0.5, votingThreshold: 0.6))
    #expect(r.indices == [0, 2])
    let x1 = (0.9 * 0 + 0.8 * 1) / 1.7
    let x2 = (0.9 * 10 + 0.8 * 11) / 1.7
    #expect(Swift.abs(Double(r.boxes[0]) - x1) < 1e-5 && Swift.abs(Double(r.boxes[2]) - x2) < 1e-5)
    #expect(Array(r.boxes[4..<8]) == [20, 20, 30, 30] && r.scores == [Double(Float(0.9)), Double(Float(0.7))])
    // A voting threshold above their overlap leaves A's box as it was, B still suppressed.
    let strict = run(.weighted(iouThreshold: 0.5, votingThreshold: 0.9))
    #expect(Array(strict.boxes[0..<4]) == [0, 0, 10, 10] && strict.indices == [0, 2])
    // Standard NMS keeps boxes and scores as they are.
    #expect(run(.standard(iouThreshold: 0.5)).indices == [0, 2])
  }

  @Test func boxFusionAveragesTheClusterAndScoresItByItsSources() {
    // A and B fuse (IoU 0.82 > 0.55) into their score-weighted mean, C stays alone.
    let r = run(.wbf(iouThreshold: 0.55))
    #expect(r.indices == [0, 2])
    let x1 = (0.9 * 0 + 0.8 * 1) / 1.7
    let x2 = (0.9 * 10 + 0.8 * 11) / 1.7
    #expect(Swift.abs(Double(r.boxes[0]) - x1) < 1e-5 && Swift.abs(Double(r.boxes[2]) - x2) < 1e-5)
    #expect(Array(r.boxes[4..<8]) == [20, 20, 30, 30])
    // One source: the cluster's mean score; two sources: C, found by one, is halved.
    #expect(Swift.abs(r.scores[0] - 0.85) < 1e-6 && Swift.abs(r.scores[1] - 0.7) < 1e-6)
    let two = weightedBoxesFusion(boxes: boxes, scores: scores, groups: oneGroup, iouThreshold: 0.55, sources: 2)
    let twoScores = two.scores.to(.float64).toArray(Double.self)
    #expect(Swift.abs(twoScores[0] - 0.85) < 1e-6 && Swift.abs(twoScores[1] - 0.35) < 1e-6)
    // Different labels never fuse.
    #expect(run(.wbf(iouThreshold: 0.55), groups: Tensor([Int64(1), 2, 1])).indices == [0, 1, 2])
  }

  /// The tensor form is the list form `simpledet ensemble` uses (checked against ensemble-boxes)
  /// on the pooled detections of several sources.
  @Test func boxFusionOnTensorsEqualsTheEnsembleFunction() {
    let g = Generator(seed: 5)
    let count = 120
    let corners = Tensor.rand([count, 2], generator: g) * 100
    let sizes = Tensor.rand([count, 2], generator: g) * 40 + 4
    let boxes = Tensor.concatenate([corners, corners + sizes], axis: 1).to(.float64)
    let scores = Tensor.rand([count], generator: g).to(.float64)
    let labels = (Tensor.rand([count], generator: g) * 3).to(.int64)
    let (flat, s, l) = (boxes.toArray(Double.self), scores.toArray(Double.self), labels.toArray(Int.self))
    let models = (0..<3).map { m in
      stride(from: m, to: count, by: 3).map { i in
        EnsembleBox(x1: flat[4 * i], y1: flat[4 * i + 1], x2: flat[4 * i + 2], y2: flat[4 * i + 3], score: s[i], label: l[i])
      }
    }
    let expected = ensemble(models, method: .weightedBoxesFusion(iouThreshold: 0.55))
    let ours = weightedBoxesFusion(boxes: boxes, scores: scores, groups: labels, iouThreshold: 0.55, sources: 3)
    #expect(ours.indices.shape[0] == expected.count)
    let oursBoxes = ours.boxes.toArray(Double.self)
    let oursScores = ours.scores.toArray(Double.self)
    // Same fused boxes and scores, as sets (both sort by score; ties may order differently).
    var unmatched = expected
    for k in 0..<oursScores.count {
      let b = Array(oursBoxes[(4 * k)..<(4 * k + 4)])
      if let j = unmatched.firstIndex(where: { e in
        Swift.abs(e.score - oursScores[k]) < 1e-9
          && zip([e.x1, e.y1, e.x2, e.y2], b).allSatisfy { Swift.abs($0 - $1) < 1e-9 }
      }) {
        unmatched.remove(at: j)
      }
    }
    #expect(unmatched.isEmpty, "\(unmatched.count) fused boxes differ")
    #expect(oursScores == oursScores.sorted(by: >))
  }

  /// mmcv's soft-NMS loop, written plainly: the reference our kernel must match.
  func mmcvSoftNMS(boxes: [[Float]], scores: [Float], linear: Bool, threshold: Float, sigma: Float, floor: Float)
    -> [(Int, Float)]
  {
    var b = boxes
    var s = scores
    var index = Array(boxes.indices)
    var n = b.count
    var kept: [(Int, Float)] = []
    var i = 0
    while i < n {
      var best = i
      for p in (i + 1)..<max(n, i + 1) where s[p] > s[best] { best = p }
      b.swapAt(i, best)
      s.swapAt(i, best)
      index.swapAt(i, best)
      kept.append((index[i], s[i]))
      let area = { (x: [Float]) in (x[2] - x[0]) * (x[3] - x[1]) }
      var p = i + 1
      while p < n {
        let w = max(0, min(b[i][2], b[p][2]) - max(b[i][0], b[p][0]))
        let h = max(0, min(b[i][3], b[p][3]) - max(b[i][1], b[p][1]))
        let inter = w * h
        let iou = inter / (area(b[i]) + area(b[p]) - inter)
        let weight: Float = linear ? (iou >= threshold ? 1 - iou : 1) : Foundation.exp(-(iou * iou) / sigma)
        s[p] *= weight
        if s[p] < floor {
          b[p] = b[n - 1]
          s[p] = s[n - 1]
          index[p] = index[n - 1]
          n -= 1
        } else {
          p += 1
        }
      }
      i += 1
    }
    return kept.sorted { $0.1 > $1.1 }
  }

  @Test(arguments: [true, false])
  func softNMSMatchesMMCVsLoopOnRandomBoxes(linear: Bool) {
    let g = Generator(seed: 11)
    let count = 300
    let corners = Tensor.rand([count, 2], generator: g) * 200
    let sizes = Tensor.rand([count, 2], generator: g) * 60 + 4
    let boxes = Tensor.concatenate([corners, corners + sizes], axis: 1)
    let scores = Tensor.rand([count], generator: g)
    let flat = boxes.toArray(Float.self)
    let expected = mmcvSoftNMS(
      boxes: (0..<count).map { Array(flat[(4 * $0)..<(4 * $0 + 4)]) }, scores: scores.toArray(Float.self), linear: linear,
      threshold: 0.3, sigma: 0.5, floor: 0.05)
    let decay: SoftNMSDecay = linear ? .linear(iouThreshold: 0.3) : .gaussian(sigma: 0.5)
    let (indices, decayed) = softNonMaximumSuppression(
      boxes: boxes, scores: scores, groups: Tensor.zeros([count], dtype: .int64), decay: decay, minScore: 0.05)
    let ours = zip(indices.toArray(Int.self), decayed.toArray(Float.self)).map { ($0, $1) }
    #expect(ours.count == expected.count)
    let sameBoxes = Set(ours.map(\.0)) == Set(expected.map(\.0))
    #expect(sameBoxes)
    let largest = zip(ours, expected).map { Swift.abs($0.1 - $1.1) }.max() ?? 0
    #expect(largest < 1e-6, "largest score difference \(largest)")
  }
}

@Suite(.serialized) struct DetectorNMSTests {
  /// Every detector kind applies the configured method: soft-NMS keeps at least the boxes greedy
  /// NMS keeps (it only decays), weighted NMS the same number.
  @Test(arguments: ["faster", "retinanet", "fcos"])
  func detectorsApplyTheChosenMethod(kind: String) {
    let configuration: DetectorConfiguration =
      switch kind {
      case "faster": smallFasterRCNNConfiguration()
      case "retinanet": smallRetinaNetConfiguration()
      default: smallFCOSConfiguration()
      }
    let model = configuration.makeDetector()
    model.eval()
    model.inference.scoreThreshold = 0.01
    let (images, _) = rectangleScenes(count: 1, size: 96, seed: 2)
    func detections(_ method: NMSMethod?) -> Instances {
      model.inference.nms = method
      return model.detect(images)[0]
    }
    let greedy = detections(nil)
    let soft = detections(.soft(.gaussian(sigma: 0.5), minScore: 0.001))
    let weighted = detections(.weighted(iouThreshold: 0.5, votingThreshold: 0.8))
    let fused = detections(.wbf(iouThreshold: 0.55))
    #expect(greedy.count > 0)
    #expect(fused.count > 0 && fused.count <= model.inference.detectionsPerImage)
    #expect(soft.count >= min(greedy.count, model.inference.detectionsPerImage))
    let scores = soft["scores"]!.toArray(Float.self)
    #expect(scores == scores.sorted(by: >))
    #expect(weighted.count > 0)
  }
}
