import Config
import Torch

/// Loss scaling for float16 training (`runtime.precision: fp16`): the loss is multiplied by
/// `scale` before backward so that small gradients survive float16's range, and the gradients
/// are divided by it again before clipping and the update. Dynamic scaling behaves as PyTorch's
/// `GradScaler`: it starts at 2^16, halves and skips the step when a gradient is not finite, and
/// doubles after 2,000 finite steps in a row; a fixed scale (the SimpleDet paper's static
/// scaling) never changes.
public struct LossScaler: Equatable, Sendable {
  public static let initialScale = 65536.0
  public static let growthFactor = 2.0
  public static let backoffFactor = 0.5
  public static let growthInterval = 2000

  public var scale: Double
  public let isDynamic: Bool
  /// Finite steps since the scale last changed.
  public var growthTracker = 0

  public init(_ setting: RuntimeSection.LossScale) {
    switch setting {
    case .dynamic:
      scale = Self.initialScale
      isDynamic = true
    case .fixed(let value):
      scale = value
      isDynamic = false
    }
  }

  /// After a step whose gradients were finite or not.
  public mutating func update(finite: Bool) {
    guard isDynamic else { return }
    if finite {
      growthTracker += 1
      if growthTracker == Self.growthInterval {
        scale *= Self.growthFactor
        growthTracker = 0
      }
    } else {
      scale *= Self.backoffFactor
      growthTracker = 0
    }
  }

  /// Backward of `loss × scale` into `parameters`' gradients, which are then divided by the
  /// scale again (exact for power-of-two scales), ready for clipping and the update.
  public func backward(_ loss: Tensor, parameters: [Tensor]) {
    (loss * scale).backward()
    withNoGrad {
      for gradient in parameters.compactMap(\.grad) { gradient *= 1 / scale }
    }
  }
}
