import Masks

/// What matching leaves for one category: its detections in accumulation order and, per area
/// range and IoU threshold, whether each was a true positive, a false positive or ignored.
struct CategoryMatches {
  static let falsePositive: UInt8 = 0
  static let truePositive: UInt8 = 1
  static let ignored: UInt8 = 2

  /// Kept detections' scores: images in ascending id order, each image's best first.
  var scores: [Double] = []
  /// For each (image, category) pair with detections: where its detections start in `scores`.
  var pairStarts: [Int] = []
  var pairCounts: [Int] = []
  /// `states[a * T + t][j]` for detection `j`.
  var states: [[UInt8]]
  /// Ground truths that count (not crowd, inside the area range), per area range.
  var positives: [Int]

  init(parameters: COCOParameters) {
    states = Array(repeating: [], count: parameters.areaRanges.count * parameters.iouThresholds.count)
    positives = Array(repeating: 0, count: parameters.areaRanges.count)
  }
}

/// pycocotools' `evaluateImg` for one (image, category) pair, with scratch buffers reused
/// across pairs so that the hot loop allocates nothing.
struct Matcher {
  private let thresholds: [Double]
  private let areaRanges: [AreaRange]
  private let maxDetections: Int
  private var order: [Int] = []
  private var iou: [Double] = []
  private var detectionBoxes: [BoundingBox] = []
  private var groundTruthBoxes: [BoundingBox] = []
  private var crowd: [Bool] = []
  private var gtOrder: [Int] = []
  private var gtIgnored: [Bool] = []
  private var gtTaken: [Bool] = []

  init(parameters: COCOParameters) {
    // A perfect overlap of 1.0 must still match at threshold 1.0.
    thresholds = parameters.iouThresholds.map { min($0, 1 - 1e-10) }
    areaRanges = parameters.areaRanges
    maxDetections = parameters.maxDetections.last ?? 0
  }

  mutating func match(
    groundTruths gts: ArraySlice<Int>, detections dts: ArraySlice<Int>, gtGeometry: Geometry, dtGeometry: Geometry,
    gtArea: [Double], gtCrowd: [Bool], gtHasZeroID: [Bool], dtScore: [Double], into category: inout CategoryMatches
  ) {
    // Highest score first; ties keep file order, as numpy's stable mergesort does.
    order.removeAll(keepingCapacity: true)
    order.append(contentsOf: dts)
    dtScore.withUnsafeBufferPointer { score in
      order.sort { a, b in score[a] > score[b] || (score[a] == score[b] && a < b) }
    }
    if order.count > maxDetections { order.removeLast(order.count - maxDetections) }
    let detectionCount = order.count
    let groundTruthCount = gts.count

    computeOverlaps(gts: gts, gtGeometry: gtGeometry, dtGeometry: dtGeometry, gtCrowd: gtCrowd)

    category.pairStarts.append(category.scores.count)
    category.pairCounts.append(detectionCount)
    for index in order { category.scores.append(dtScore[index]) }

    let dtAreas = dtGeometry.areas
    let thresholdCount = thresholds.count
    let first = gts.startIndex
    for (a, range) in areaRanges.enumerated() {
      // Columns of the ground truths that count come first; the matching loop stops at the
      // first ignored one once it holds a match to a counted one.
      gtOrder.removeAll(keepingCapacity: true)
      gtIgnored.removeAll(keepingCapacity: true)
      for column in 0..<groundTruthCount where !isIgnored(gts[first + column], range, gtArea, gtCrowd) {
        gtOrder.append(column)
        gtIgnored.append(false)
      }
      category.positives[a] += gtOrder.count
      for column in 0..<groundTruthCount where isIgnored(gts[first + column], range, gtArea, gtCrowd) {
        gtOrder.append(column)
        gtIgnored.append(true)
      }

      gtTaken.removeAll(keepingCapacity: true)
      gtTaken.append(contentsOf: repeatElement(false, count: thresholdCount * groundTruthCount))
      for t in 0..<thresholdCount {
        let threshold = thresholds[t]
        let taken = t * groundTruthCount
        let stateIndex = a * thresholdCount + t
        for d in 0..<detectionCount {
          var best = threshold
          var match = -1
          let row = d * groundTruthCount
          for slot in 0..<groundTruthCount {
            let column = gtOrder[slot]
            if gtTaken[taken + slot] && !crowd[column] { continue }
            if match > -1 && !gtIgnored[match] && gtIgnored[slot] { break }
            let overlap = iou[row + column]
            if overlap < best { continue }
            best = overlap
            match = slot
          }
          var ignored = false
          // pycocotools records the matched ground truth's id and tests it against 0, so a match
          // to an annotation with id 0 counts as no match; kept for identical numbers.
          var matchedNonZero = false
          if match > -1 {
            gtTaken[taken + match] = true
            ignored = gtIgnored[match]
            matchedNonZero = !gtHasZeroID[gts[first + gtOrder[match]]]
          }
          if !matchedNonZero && !ignored {
            let area = dtAreas[order[d]]
            ignored = area < range.lowerBound || area > range.upperBound
          }
          let state =
            ignored ? CategoryMatches.ignored : (matchedNonZero ? CategoryMatches.truePositive : CategoryMatches.falsePositive)
          category.states[stateIndex].append(state)
        }
      }
    }
  }

  @inline(__always)
  private func isIgnored(_ g: Int, _ range: AreaRange, _ gtArea: [Double], _ gtCrowd: [Bool]) -> Bool {
    gtCrowd[g] || gtArea[g] < range.lowerBound || gtArea[g] > range.upperBound
  }

  /// Fills `iou` (detections in score order × ground truths in file order).
  private mutating func computeOverlaps(gts: ArraySlice<Int>, gtGeometry: Geometry, dtGeometry: Geometry, gtCrowd: [Bool]) {
    let detectionCount = order.count
    let groundTruthCount = gts.count
    iou.removeAll(keepingCapacity: true)
    iou.append(contentsOf: repeatElement(0, count: detectionCount * groundTruthCount))
    if detectionCount == 0 || groundTruthCount == 0 { return }
    crowd.removeAll(keepingCapacity: true)
    for g in gts { crowd.append(gtCrowd[g]) }
    switch (gtGeometry, dtGeometry) {
    case (.boxes(let gtBoxes, _), .boxes(let dtBoxes, _)):
      detectionBoxes.removeAll(keepingCapacity: true)
      for d in order { detectionBoxes.append(dtBoxes[d]) }
      groundTruthBoxes.removeAll(keepingCapacity: true)
      for g in gts { groundTruthBoxes.append(gtBoxes[g]) }
      iou.withUnsafeMutableBufferPointer { out in
        detectionBoxes.withUnsafeBufferPointer { dts in
          groundTruthBoxes.withUnsafeBufferPointer { gts in
            crowd.withUnsafeBufferPointer { crowd in
              Overlap.boxIoU(detections: dts, groundTruths: gts, isCrowd: crowd, into: out)
            }
          }
        }
      }
    case (.masks(let gtMasks, _), .masks(let dtMasks, _)):
      let matrix = Overlap.iou(
        detections: order.map { dtMasks[$0] }, groundTruths: gts.map { gtMasks[$0] }, isCrowd: crowd)
      iou = matrix.values
    default:
      preconditionFailure("ground truth and detections must have the same geometry")
    }
  }
}
