internal import CTorch
import Torch

/// How soft-NMS decays the score of a box overlapping a kept one.
public enum SoftNMSDecay: Sendable, Equatable {
  /// Multiply by `1 − IoU` once the IoU reaches the threshold (Bodla et al.'s linear rule, with
  /// mmcv's `>=`).
  case linear(iouThreshold: Double)
  /// Multiply by `exp(−IoU² / σ)` (Bodla et al.'s Gaussian rule, as mmcv writes it).
  case gaussian(sigma: Double)
}

/// Soft non-maximum suppression (Bodla et al. 2017) within each group: the best remaining box is
/// kept and the others' scores decay with their overlap with it, instead of being dropped; a box
/// whose score falls below `minScore` leaves. Returns the kept indices and their decayed scores,
/// highest first, as mmcv's `soft_nms` (which `ensemble-boxes`' `soft_nms` differs from: it
/// returns the original scores).
/// - Parameters:
///   - boxes: `[N, 4]` as `x1, y1, x2, y2`.
///   - scores: `[N]`.
///   - groups: `[N]` group (class) ids; boxes of different groups never decay each other.
public func softNonMaximumSuppression(
  boxes: Tensor, scores: Tensor, groups: Tensor, decay: SoftNMSDecay, minScore: Double
) -> (indices: Tensor, scores: Tensor) {
  let boxes = fullPrecision(boxes)
  let scores = fullPrecision(scores)
  let (method, threshold, sigma): (Int32, Double, Double) =
    switch decay {
    case .linear(let iouThreshold): (0, iouThreshold, 1)
    case .gaussian(let sigma): (1, 0, sigma)
    }
  return OperationTimer.shared.measure("nms") {
    boxes.withHandle { b in
      scores.withHandle { s in
        groups.withHandle { g in
          Tensor.wrappingPair(operation: "softNonMaximumSuppression") {
            ct_soft_nms(b, s, g, method, threshold, sigma, minScore, $0, $1)
          }
        }
      }
    }
  }
}

/// Weighted NMS within each group (SimpleDet's weighted NMS): greedy NMS at `iouThreshold` whose
/// kept boxes are replaced by the score-weighted mean of the boxes overlapping them by more than
/// `votingThreshold`, themselves included. Returns the kept indices, highest score first, and
/// their fused boxes `[K, 4]`.
public func weightedNonMaximumSuppression(
  boxes: Tensor, scores: Tensor, groups: Tensor, iouThreshold: Double, votingThreshold: Double
) -> (indices: Tensor, boxes: Tensor) {
  let boxes = fullPrecision(boxes)
  let scores = fullPrecision(scores)
  return OperationTimer.shared.measure("nms") {
    boxes.withHandle { b in
      scores.withHandle { s in
        groups.withHandle { g in
          Tensor.wrappingPair(operation: "weightedNonMaximumSuppression") {
            ct_weighted_nms(b, s, g, iouThreshold, votingThreshold, $0, $1)
          }
        }
      }
    }
  }
}
