import Foundation
import Torch

/// Assigns each RoI to a feature-pyramid level by its scale (FPN paper, eq. 1):
/// `level = floor(canonicalLevel + log2(sqrt(area) / canonicalScale) + ε)`, limited to the
/// available levels. Returns level indices counted from `minLevel` (0 for the finest).
public struct LevelMapper: Sendable {
  public var minLevel: Int
  public var maxLevel: Int
  public var canonicalScale: Double
  public var canonicalLevel: Int
  public var epsilon: Double

  public init(minLevel: Int, maxLevel: Int, canonicalScale: Double = 224, canonicalLevel: Int = 4, epsilon: Double = 1e-6) {
    self.minLevel = minLevel
    self.maxLevel = maxLevel
    self.canonicalScale = canonicalScale
    self.canonicalLevel = canonicalLevel
    self.epsilon = epsilon
  }

  /// Level indices `[N]` (int64) for boxes `[N, 4]`.
  public func levels(for boxes: Boxes) -> Tensor {
    let scale = boxes.areas.sqrt()
    let level = (Double(canonicalLevel) + (scale / canonicalScale).log2() + epsilon).floor()
    return (level.clamped(min: Double(minLevel), max: Double(maxLevel)) - Double(minLevel)).to(.int64)
  }
}
