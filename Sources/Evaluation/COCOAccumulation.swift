/// pycocotools' `accumulate()`: precision at each recall threshold and the final recall, per
/// IoU threshold, category, area range and detection cap.
struct Accumulator {
  private let parameters: COCOParameters
  private let categoryCount: Int
  /// `[T, R, K, A, M]`; -1 where a category has no ground truth that counts.
  var precision: MetricArray
  /// `[T, K, A, M]`.
  var recall: MetricArray
  /// `[T, R, K, A, M]`: the score at which each precision value is reached.
  var scores: MetricArray
  private var selected: [Int] = []
  private var recallCurve: [Double] = []
  private var precisionCurve: [Double] = []

  init(parameters: COCOParameters, categoryCount: Int) {
    self.parameters = parameters
    self.categoryCount = categoryCount
    let t = parameters.iouThresholds.count
    let r = parameters.recallThresholds.count
    let a = parameters.areaRanges.count
    let m = parameters.maxDetections.count
    precision = MetricArray(shape: [t, r, categoryCount, a, m], repeating: -1)
    recall = MetricArray(shape: [t, categoryCount, a, m], repeating: -1)
    scores = MetricArray(shape: [t, r, categoryCount, a, m], repeating: -1)
  }

  mutating func accumulate(_ category: CategoryMatches, categorySlot k: Int) {
    if category.pairStarts.isEmpty { return }
    let thresholdCount = parameters.iouThresholds.count
    let recallThresholds = parameters.recallThresholds
    let recallCount = recallThresholds.count
    let areaCount = parameters.areaRanges.count
    // numpy's np.spacing(1), which keeps 0/0 out of the precision of leading ignored detections.
    let epsilon = 1.0.ulp

    for (m, cap) in parameters.maxDetections.enumerated() {
      // Each image's first `cap` detections, then all of them by score; ties keep image order.
      selected.removeAll(keepingCapacity: true)
      for (start, count) in zip(category.pairStarts, category.pairCounts) {
        selected.append(contentsOf: start..<(start + min(count, cap)))
      }
      category.scores.withUnsafeBufferPointer { score in
        selected.sort { a, b in score[a] > score[b] || (score[a] == score[b] && a < b) }
      }
      let detectionCount = selected.count

      for a in 0..<areaCount {
        let positives = category.positives[a]
        if positives == 0 { continue }
        let total = Double(positives)
        for t in 0..<thresholdCount {
          let states = category.states[a * thresholdCount + t]
          recallCurve.removeAll(keepingCapacity: true)
          precisionCurve.removeAll(keepingCapacity: true)
          var truePositives = 0.0
          var falsePositives = 0.0
          for j in selected {
            let state = states[j]
            if state == CategoryMatches.truePositive {
              truePositives += 1
            } else if state == CategoryMatches.falsePositive {
              falsePositives += 1
            }
            recallCurve.append(truePositives / total)
            precisionCurve.append(truePositives / (falsePositives + truePositives + epsilon))
          }
          recall.values[recall.offset(t, k, a, m)] = detectionCount > 0 ? recallCurve[detectionCount - 1] : 0

          // The precision envelope: best precision at this recall or any higher one.
          if detectionCount > 1 {
            for i in stride(from: detectionCount - 1, to: 0, by: -1) where precisionCurve[i] > precisionCurve[i - 1] {
              precisionCurve[i - 1] = precisionCurve[i]
            }
          }
          // np.searchsorted(rc, recThrs, side='left'); thresholds past the last recall reached
          // keep precision 0.
          var i = 0
          for r in 0..<recallCount {
            let offset = precision.offset(t, r, k, a, m)
            while i < detectionCount && recallCurve[i] < recallThresholds[r] { i += 1 }
            if i < detectionCount {
              precision.values[offset] = precisionCurve[i]
              scores.values[offset] = category.scores[selected[i]]
            } else {
              precision.values[offset] = 0
              scores.values[offset] = 0
            }
          }
        }
      }
    }
  }
}
