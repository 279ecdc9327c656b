import Foundation

/// A learning-rate schedule: a warm-up followed by a decay, as a factor of the base rate at each
/// iteration (detectron2's `WarmupMultiStepLR` and `WarmupCosineLR`).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
  public enum WarmupMethod: String, ConfigChoice, Sendable {
    /// The factor rises linearly from `warmupFactor` to 1.
    case linear
    /// The factor stays at `warmupFactor` until the warm-up ends.
    case constant
  }

  public enum Decay: Codable, Equatable, Sendable {
    /// The factor stays 1.
    case constant
    /// Multiplied by `gamma` at each milestone iteration.
    case multiStep(milestones: [Int], gamma: Double)
    /// Half a cosine from 1 at iteration 0 down to `finalFactor` at `maxIterations`.
    case cosine(maxIterations: Int, finalFactor: Double)
  }

  public var warmupMethod: WarmupMethod
  public var warmupIterations: Int
  public var warmupFactor: Double
  public var decay: Decay

  public init(
    warmupMethod: WarmupMethod = .linear, warmupIterations: Int = 0, warmupFactor: Double = 0.001,
    decay: Decay = .constant
  ) {
    self.warmupMethod = warmupMethod
    self.warmupIterations = warmupIterations
    self.warmupFactor = warmupFactor
    self.decay = decay
  }

  /// The factor of the base learning rate used for `iteration` (counted from 0).
  public func factor(at iteration: Int) -> Double {
    decayFactor(at: iteration) * warmup(at: iteration)
  }

  private func warmup(at iteration: Int) -> Double {
    guard iteration < warmupIterations else { return 1 }
    switch warmupMethod {
    case .constant:
      return warmupFactor
    case .linear:
      let alpha = Double(iteration) / Double(warmupIterations)
      return warmupFactor * (1 - alpha) + alpha
    }
  }

  private func decayFactor(at iteration: Int) -> Double {
    switch decay {
    case .constant:
      return 1
    case .multiStep(let milestones, let gamma):
      let passed = milestones.filter { $0 <= iteration }.count
      return Foundation.pow(gamma, Double(passed))
    case .cosine(let maxIterations, let finalFactor):
      let t = Double(min(iteration, maxIterations)) / Double(max(maxIterations, 1))
      return finalFactor + (1 - finalFactor) * 0.5 * (1 + Foundation.cos(Double.pi * t))
    }
  }
}
