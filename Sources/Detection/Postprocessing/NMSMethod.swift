import NN
import Torch

/// How a detector reduces the overlapping detections of each class at test time
/// (`test.nms: {kind: soft, ...}` in a config).
public enum NMSMethod: Equatable, Sendable {
  /// Greedy NMS: boxes overlapping a kept box by more than the threshold are dropped.
  case standard(iouThreshold: Double)
  /// Soft-NMS (Bodla et al. 2017): overlapping boxes keep decayed scores instead of leaving;
  /// those decayed below `minScore` leave.
  case soft(SoftNMSDecay, minScore: Double)
  /// Weighted NMS (SimpleDet's): greedy NMS whose kept boxes become the score-weighted means of
  /// the boxes overlapping them by more than `votingThreshold`.
  case weighted(iouThreshold: Double, votingThreshold: Double)
  /// Weighted box fusion (Solovyev et al. 2021): every box joins the fused box it overlaps most
  /// by more than the threshold, which becomes its members' score-weighted mean, scored by their
  /// mean score (times `min(members, sources) / sources` over several sources, such as test
  /// augmentations).
  case wbf(iouThreshold: Double)

  public enum Kind: String, CaseIterable, Sendable {
    case standard, soft, weighted, wbf
  }

  public var kind: Kind {
    switch self {
    case .standard: .standard
    case .soft: .soft
    case .weighted: .weighted
    case .wbf: .wbf
    }
  }

  /// The detections kept within each group, best first: their indices into the inputs (for
  /// `wbf`, each fused box's best member), and their boxes and scores (fused boxes for
  /// `weighted`, decayed scores for `soft`, both fused for `wbf`).
  /// - Parameters:
  ///   - offsetTrickLimit: `standard` only, see `batchedNonMaximumSuppression`.
  ///   - sources: `wbf` only: how many models or augmentations the detections pool.
  public func apply(
    boxes: Tensor, scores: Tensor, groups: Tensor, offsetTrickLimit: Int = 1000, sources: Int = 1
  ) -> (indices: Tensor, boxes: Tensor, scores: Tensor) {
    switch self {
    case .standard(let threshold):
      let keep = batchedNonMaximumSuppression(
        boxes: boxes, scores: scores, groups: groups, iouThreshold: threshold, offsetTrickLimit: offsetTrickLimit)
      return (keep, boxes.gathering(keep), scores.gathering(keep))
    case .soft(let decay, let minScore):
      let (keep, decayed) = softNonMaximumSuppression(
        boxes: boxes, scores: scores, groups: groups, decay: decay, minScore: minScore)
      return (keep, boxes.gathering(keep), decayed.to(scores.dtype))
    case .weighted(let threshold, let voting):
      let (keep, fused) = weightedNonMaximumSuppression(
        boxes: boxes, scores: scores, groups: groups, iouThreshold: threshold, votingThreshold: voting)
      return (keep, fused.to(boxes.dtype), scores.gathering(keep))
    case .wbf(let threshold):
      return weightedBoxesFusion(
        boxes: boxes, scores: scores, groups: groups, iouThreshold: threshold, sources: sources)
    }
  }
}

// Configs spell a method as `{kind: soft, decay: gaussian, iou_threshold: 0.3, sigma: 0.5,
// min_score: 0.001}`: soft-NMS always carries both decays' settings (mmcv's defaults), so that
// switching `decay` needs no other key.
extension NMSMethod: Codable {
  public enum Decay: String, ConfigChoice, Sendable {
    case linear, gaussian
  }

  private enum CodingKeys: String, CodingKey {
    case kind
    case iouThreshold = "iou_threshold"
    case decay, sigma
    case minScore = "min_score"
    case votingThreshold = "voting_threshold"
  }

  public init(from decoder: any Decoder) throws {
    let kind = try decoder.partKind(Kind.self, family: "NMS")
    let c = try decoder.container(keyedBy: CodingKeys.self)
    switch kind {
    case .standard:
      self = .standard(iouThreshold: try c.decode(Double.self, forKey: .iouThreshold))
    case .soft:
      let threshold = try c.decodeIfPresent(Double.self, forKey: .iouThreshold) ?? 0.3
      let sigma = try c.decodeIfPresent(Double.self, forKey: .sigma) ?? 0.5
      let decay: SoftNMSDecay =
        switch try c.decode(Decay.self, forKey: .decay) {
        case .linear: .linear(iouThreshold: threshold)
        case .gaussian: .gaussian(sigma: sigma)
        }
      self = .soft(decay, minScore: try c.decode(Double.self, forKey: .minScore))
    case .weighted:
      self = .weighted(
        iouThreshold: try c.decode(Double.self, forKey: .iouThreshold),
        votingThreshold: try c.decode(Double.self, forKey: .votingThreshold))
    case .wbf:
      self = .wbf(iouThreshold: try c.decode(Double.self, forKey: .iouThreshold))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    try encoder.encodePart(kind: kind, settings: nil)
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .standard(let threshold):
      try c.encode(threshold, forKey: .iouThreshold)
    case .soft(let decay, let minScore):
      switch decay {
      case .linear(let threshold):
        try c.encode(Decay.linear, forKey: .decay)
        try c.encode(threshold, forKey: .iouThreshold)
        try c.encode(0.5, forKey: .sigma)
      case .gaussian(let sigma):
        try c.encode(Decay.gaussian, forKey: .decay)
        try c.encode(0.3, forKey: .iouThreshold)
        try c.encode(sigma, forKey: .sigma)
      }
      try c.encode(minScore, forKey: .minScore)
    case .weighted(let threshold, let voting):
      try c.encode(threshold, forKey: .iouThreshold)
      try c.encode(voting, forKey: .votingThreshold)
    case .wbf(let threshold):
      try c.encode(threshold, forKey: .iouThreshold)
    }
  }
}
