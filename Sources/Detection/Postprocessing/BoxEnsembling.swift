import Foundation
import Torch

/// One model's detection of an object, for merging the detections of several models (or test
/// augmentations) of one image: corners in any unit, as long as every model uses the same.
public struct EnsembleBox: Equatable, Sendable {
  public var x1, y1, x2, y2: Double
  public var score: Double
  public var label: Int

  public init(x1: Double, y1: Double, x2: Double, y2: Double, score: Double, label: Int) {
    (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2)
    self.score = score
    self.label = label
  }

  var area: Double { (x2 - x1) * (y2 - y1) }

  func iou(_ other: EnsembleBox) -> Double {
    let w = max(0, min(x2, other.x2) - max(x1, other.x1))
    let h = max(0, min(y2, other.y2) - max(y1, other.y1))
    let inter = w * h
    guard inter > 0 else { return 0 }
    return inter / (area + other.area - inter)
  }
}

/// How the detections of several models are merged, per image and class.
public enum EnsembleMethod: Equatable, Sendable {
  /// Greedy NMS over all models' boxes, scores scaled by each model's weight over the weights'
  /// sum (ensemble-boxes' `nms`).
  case nms(iouThreshold: Double)
  /// Soft-NMS with mmcv's rules over all models' boxes (scaled as for `nms`), keeping the decayed
  /// scores (ensemble-boxes' `soft_nms` keeps the original ones).
  case softNMS(SoftNMSDecay, minScore: Double)
  /// Non-maximum weighted (Zhou et al. 2017, ensemble-boxes' `non_maximum_weighted`): each
  /// cluster's box is the mean of its boxes weighted by score × IoU with its best box.
  case nonMaximumWeighted(iouThreshold: Double)
  /// Weighted box fusion (Solovyev et al. 2021, ensemble-boxes' `weighted_boxes_fusion` with
  /// `conf_type='avg'`): boxes join the fused box they overlap most, which is their
  /// score-weighted mean; its score is the mean score, scaled by how many models it has.
  case weightedBoxesFusion(iouThreshold: Double)
}

/// Merges the detections of `models` (one list per model) of one image, as `method` says, with
/// `weights` per model (nil: all 1, and for `nms` and `softNMS` scores left as they are) after dropping boxes scoring below `skipBelow` (not for `nms`
/// and `softNMS`, as in ensemble-boxes). Boxes are used as given: clip and normalise them first
/// if the reference you compare with does (ensemble-boxes clips to [0, 1]). The output is sorted
/// by decreasing score for the fusing methods, and by label then score for the NMS ones, as
/// ensemble-boxes orders them.
public func ensemble(
  _ models: [[EnsembleBox]], weights: [Double]? = nil, method: EnsembleMethod, skipBelow: Double = 0
) -> [EnsembleBox] {
  precondition(weights == nil || weights!.count == models.count, "ensemble: one weight per model")
  switch method {
  case .nms, .softNMS:
    // Given weights scale each model's scores by its share of their sum; without, scores stay.
    let shares = weights.map { w in w.map { $0 / w.reduce(0, +) } } ?? Array(repeating: 1, count: models.count)
    let all = zip(models, shares).flatMap { boxes, share in boxes.map { b in var b = b; b.score *= share; return b } }
      .filter { $0.area > 0 }
    return Dictionary(grouping: all, by: \.label).sorted { $0.key < $1.key }.flatMap { _, boxes in
      suppressed(boxes, method: method)
    }
  case .nonMaximumWeighted(let threshold):
    let weights = weights ?? Array(repeating: 1, count: models.count)
    let largest = weights.max() ?? 1
    return byLabel(models, weights: weights.map { $0 / largest }, skipBelow: skipBelow).flatMap {
      nonMaximumWeighted($0, iouThreshold: threshold)
    }.sorted { $0.score > $1.score }
  case .weightedBoxesFusion(let threshold):
    let weights = weights ?? Array(repeating: 1, count: models.count)
    return byLabel(models, weights: weights, skipBelow: skipBelow).flatMap {
      fusedClusters($0, iouThreshold: threshold, modelCount: models.count, weightSum: weights.reduce(0, +)).map(\.box)
    }.sorted { $0.score > $1.score }
  }
}

/// A box with the weight of the model it came from, and its position among its inputs.
struct WeightedBox {
  var box: EnsembleBox
  var weight: Double
  var index = 0
}

/// Each label's boxes scoring at least `skipBelow`, scores times their model's weight, best
/// first; zero-area boxes are dropped.
private func byLabel(_ models: [[EnsembleBox]], weights: [Double], skipBelow: Double) -> [[WeightedBox]] {
  var groups: [Int: [WeightedBox]] = [:]
  var order: [Int] = []
  for (boxes, w) in zip(models, weights) {
    for var b in boxes where b.score >= skipBelow && b.area > 0 {
      b.score *= w
      if groups[b.label] == nil { order.append(b.label) }
      groups[b.label, default: []].append(WeightedBox(box: b, weight: w))
    }
  }
  return order.map { label in groups[label]!.sorted { $0.box.score > $1.box.score } }
}

private func suppressed(_ boxes: [EnsembleBox], method: EnsembleMethod) -> [EnsembleBox] {
  switch method {
  case .nms(let threshold):
    var remaining = boxes.sorted { $0.score > $1.score }
    var kept: [EnsembleBox] = []
    while let best = remaining.first {
      kept.append(best)
      remaining = remaining.dropFirst().filter { $0.iou(best) <= threshold }
    }
    return kept
  case .softNMS(let decay, let minScore):
    var remaining = boxes
    var kept: [EnsembleBox] = []
    while let bestIndex = remaining.indices.max(by: { remaining[$0].score < remaining[$1].score }) {
      let best = remaining.remove(at: bestIndex)
      kept.append(best)
      remaining = remaining.compactMap { b in
        var b = b
        let iou = b.iou(best)
        switch decay {
        case .linear(let threshold): if iou >= threshold { b.score *= 1 - iou }
        case .gaussian(let sigma): b.score *= (-(iou * iou) / sigma).exp
        }
        return b.score < minScore ? nil : b
      }
    }
    return kept
  default:
    preconditionFailure("not an NMS method")
  }
}

/// Clusters by IoU with each cluster's first (best) box, then each cluster's box weighted by
/// score × IoU with that box; the score is the best box's.
private func nonMaximumWeighted(_ boxes: [WeightedBox], iouThreshold: Double) -> [EnsembleBox] {
  var clusters: [[EnsembleBox]] = []
  for candidate in boxes.map(\.box) {
    var best = -1
    var bestIoU = iouThreshold
    for (i, cluster) in clusters.enumerated() {
      let iou = cluster[0].iou(candidate)
      if iou > bestIoU { (best, bestIoU) = (i, iou) }
    }
    if best >= 0 { clusters[best].append(candidate) } else { clusters.append([candidate]) }
  }
  return clusters.map { cluster in
    let main = cluster[0]
    var sum = (0.0, 0.0, 0.0, 0.0)
    var total = 0.0
    for b in cluster {
      let w = b.score * b.iou(main)
      sum = (sum.0 + w * b.x1, sum.1 + w * b.y1, sum.2 + w * b.x2, sum.3 + w * b.y2)
      total += w
    }
    return EnsembleBox(
      x1: sum.0 / total, y1: sum.1 / total, x2: sum.2 / total, y2: sum.3 / total, score: main.score, label: main.label)
  }
}

/// Weighted box fusion of one label's boxes (best first): each fused box with its members, best
/// first.
func fusedClusters(
  _ boxes: [WeightedBox], iouThreshold: Double, modelCount: Int, weightSum: Double
) -> [(box: EnsembleBox, members: [WeightedBox])] {
  var members: [[WeightedBox]] = []
  var fusedBoxes: [EnsembleBox] = []
  for candidate in boxes {
    // The fused box it overlaps most, if by more than the threshold.
    var best = -1
    var bestIoU = -Double.infinity
    for (i, f) in fusedBoxes.enumerated() {
      let iou = f.iou(candidate.box)
      if iou > bestIoU { (best, bestIoU) = (i, iou) }
    }
    if best >= 0 && bestIoU > iouThreshold {
      members[best].append(candidate)
      fusedBoxes[best] = mean(of: members[best])
    } else {
      members.append([candidate])
      fusedBoxes.append(candidate.box)
    }
  }
  return zip(fusedBoxes, members).map { f, cluster in
    var f = f
    f.score *= Double(min(modelCount, cluster.count)) / weightSum
    return (f, cluster)
  }
}

/// The score-weighted mean box of a cluster, with its mean score.
private func mean(of cluster: [WeightedBox]) -> EnsembleBox {
  var sum = (0.0, 0.0, 0.0, 0.0)
  var total = 0.0
  for member in cluster {
    let b = member.box
    sum = (sum.0 + b.score * b.x1, sum.1 + b.score * b.y1, sum.2 + b.score * b.x2, sum.3 + b.score * b.y2)
    total += b.score
  }
  return EnsembleBox(
    x1: sum.0 / total, y1: sum.1 / total, x2: sum.2 / total, y2: sum.3 / total,
    score: total / Double(cluster.count), label: cluster[0].box.label)
}

extension Double {
  fileprivate var exp: Double { Foundation.exp(self) }
}

/// Weighted box fusion of one image's detections within each group (class), in tensors: the
/// detections of `sources` models or test augmentations, pooled (a fused box's score is its
/// members' mean times `min(members, sources) / sources`, ensemble-boxes' rule with unit
/// weights). Returns, best first, each fused box's best member's index, and the fused boxes and
/// scores.
public func weightedBoxesFusion(
  boxes: Tensor, scores: Tensor, groups: Tensor, iouThreshold: Double, sources: Int = 1
) -> (indices: Tensor, boxes: Tensor, scores: Tensor) {
  let corners = boxes.toArray(Double.self)
  let values = scores.toArray(Double.self)
  let labels = groups.toArray(Int.self)
  var byGroup: [Int: [WeightedBox]] = [:]
  for (i, (score, label)) in zip(values, labels).enumerated() {
    let c = corners[(4 * i)..<(4 * i + 4)].map { $0 }
    let box = EnsembleBox(x1: c[0], y1: c[1], x2: c[2], y2: c[3], score: score, label: label)
    guard box.area > 0 else { continue }
    byGroup[label, default: []].append(WeightedBox(box: box, weight: 1, index: i))
  }
  // Equal scores keep their input order, so that results do not depend on the dictionary's.
  let clusters = byGroup.values.flatMap { group in
    fusedClusters(
      group.sorted { ($0.box.score, -$0.index) > ($1.box.score, -$1.index) }, iouThreshold: iouThreshold,
      modelCount: sources, weightSum: Double(sources))
  }.sorted { ($0.box.score, -$0.members[0].index) > ($1.box.score, -$1.members[0].index) }
  let device = boxes.device
  return (
    Tensor(clusters.map { Int64($0.members[0].index) }, shape: [clusters.count], device: device),
    Tensor(clusters.flatMap { [$0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2] }, shape: [clusters.count, 4], device: device)
      .to(boxes.dtype),
    Tensor(clusters.map(\.box.score), shape: [clusters.count], device: device).to(scores.dtype)
  )
}
