import NN

/// Quantization-aware training (`model.quantize`, SimpleDet's pseudo-INT8): the chosen kinds of
/// layer compute with fake-quantized weights (symmetric int8 per output channel) and inputs (8
/// bits per tensor, from a min-max range averaged over training batches), so that training
/// learns weights that survive INT8 rounding. Frozen batch norms are folded into their
/// convolutions before the weights are quantized.
///
/// Quantized: `Conv2d` (`conv`; TridentNet's shared-weight convolutions, deformable and
/// transposed convolutions stay in floating point) and `Linear` (`linear`).
public struct QuantizationConfiguration: Codable, Equatable, Sendable {
  /// The kinds of layer quantized (SimpleDet's `quantized_op`).
  public enum Layer: String, ConfigChoice, Sendable {
    case conv, linear
  }

  public var layers: [Layer] = [.conv, .linear]
  /// How inputs map to 8 bits: asymmetric `uint8` or symmetric `int8`.
  public var activation = ActivationQuantization.uint8
  /// The weight of the previous range in the moving average of each batch's min and max.
  public var decay = 0.99
  /// Training iterations in floating point before quantization starts (the ranges are observed
  /// meanwhile).
  public var delay = 0
  /// The gradient through the rounding: `ste` (straight through) or `clip` (zero where clamped).
  public var gradMode = QuantizationGradient.straightThrough

  public init() {}

  /// One layer's settings.
  public var settings: FakeQuantization {
    FakeQuantization(activation: activation, decay: decay, gradient: gradMode)
  }
}
