import Torch

/// Assigns to each prediction (anchor or proposal) the ground-truth box it overlaps most, or
/// marks it as background or ignored by IoU thresholds (torchvision's `Matcher`).
public struct Matcher: Sendable {
  /// Predictions whose best IoU is below `lowThreshold`.
  public static let belowLowThreshold = -1
  /// Predictions between the thresholds, to be ignored.
  public static let betweenThresholds = -2

  public var highThreshold: Double
  public var lowThreshold: Double
  /// Also match each ground-truth box to the predictions it overlaps best, even below the
  /// high threshold, so every object gets at least one positive (Faster R-CNN's RPN).
  public var allowLowQualityMatches: Bool

  public init(highThreshold: Double, lowThreshold: Double, allowLowQualityMatches: Bool) {
    precondition(lowThreshold <= highThreshold, "Matcher: low threshold above high threshold")
    self.highThreshold = highThreshold
    self.lowThreshold = lowThreshold
    self.allowLowQualityMatches = allowLowQualityMatches
  }

  /// For a quality matrix `[groundTruths, predictions]`, the matched ground-truth index of each
  /// prediction (`[predictions]`, int64), or `belowLowThreshold` / `betweenThresholds`.
  public func callAsFunction(_ quality: Tensor) -> Tensor {
    OperationTimer.shared.measure("matching") { match(quality) }
  }

  private func match(_ quality: Tensor) -> Tensor {
    precondition(quality.shape[0] > 0, "Matcher needs at least one ground-truth box; handle empty images before matching")
    let (values, matches) = quality.max(axis: 0)
    let original = allowLowQualityMatches ? matches.clone() : matches
    let below = values .< lowThreshold
    let between = (values .>= lowThreshold) .&& (values .< highThreshold)
    matches.fill(where: below, with: Self.belowLowThreshold)
    matches.fill(where: between, with: Self.betweenThresholds)
    if allowLowQualityMatches {
      // Predictions tied for the best IoU of some ground truth get their original match back.
      let best = quality.max(axes: [1], keepingDimensions: true)
      let isBest = (quality .== best).any(axes: [0])
      let restore = isBest.nonzeroIndices().reshaped([-1])
      matches.put(original.gathering(restore), at: restore)
    }
    return matches
  }
}
