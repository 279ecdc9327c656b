import Torch

/// How a quantized layer's input is mapped to 8 bits: one scale (and zero point) for the whole
/// tensor, from the range observed in training.
public enum ActivationQuantization: String, ConfigChoice, Sendable {
  /// Asymmetric: the range, widened to hold 0, onto 0…255 with a zero point.
  case uint8
  /// Symmetric: [−m, m] with m the larger of |min| and |max|, onto −127…127.
  case int8

  /// The integer range.
  public var range: ClosedRange<Int> { self == .uint8 ? 0...255 : -127...127 }
}

/// How the gradient passes the rounding and clamping of fake quantization.
public enum QuantizationGradient: String, ConfigChoice, Sendable {
  /// The straight-through estimator: the gradient passes unchanged, clamped values included.
  case straightThrough = "ste"
  /// Straight through inside the range, zero where the value was clamped.
  case clip
}

/// Quantization-aware training's settings for one layer (SimpleDet's pseudo-INT8): weights
/// symmetric int8 per output channel from their own min-max, inputs per tensor from a min-max
/// range averaged over training batches.
public struct FakeQuantization: Equatable, Sendable {
  public var activation = ActivationQuantization.uint8
  /// The weight of the previous range in the moving average of each batch's min and max.
  public var decay = 0.99
  public var gradient = QuantizationGradient.straightThrough

  public init(activation: ActivationQuantization = .uint8, decay: Double = 0.99, gradient: QuantizationGradient = .straightThrough) {
    self.activation = activation
    self.decay = decay
    self.gradient = gradient
  }
}

/// The fake quantization of one convolution's or linear layer's weights and input: values go
/// through 8-bit integers and back, so training sees the rounding an INT8 model will do. Held
/// by the layer (`Conv2d.fakeQuantizer`, `Linear.fakeQuantizer`), whose state dicts then carry
/// the observed input range under `fake_quantizer.`.
///
/// In training each forward first folds the input's min and max into `inputRange` (the first
/// batch sets it), then quantizes with it. In evaluation the range stays as it is; an input
/// whose range was never observed passes unquantized (the weights are still quantized). The
/// layer's output is observed and quantized alike (`outputRange`, uint8), as the int8 kernels
/// requantize their accumulation, so that the fake-quantized layer computes what the INT8 one
/// does.
///
/// Evaluation with observed ranges computes in integers what training's forward computes in
/// float32 (`integerArithmetic`): exactly what INT8 kernels compute. With `runsInt8` it runs
/// FBGEMM's int8 kernels instead (`Int8Layer`): the input quantized with the same scale and zero
/// point, the weights as here, the output requantized to uint8 over `outputRange` and
/// dequantized; the same values, bit for bit.
public final class FakeQuantizer: Module {
  /// [min, max] of the inputs seen in training, float32: an exponential moving average.
  @Buffer public var inputRange: Tensor
  /// [min, max] of the layer's outputs seen in training, as `inputRange`: the range the output
  /// is quantized to (uint8), as INT8 inference requantizes it.
  @Buffer public var outputRange: Tensor
  /// How many training batches `inputRange` has seen (0: none, inputs pass unquantized).
  @Buffer public var observedBatches: Tensor
  public let settings: FakeQuantization
  /// Whether forward quantizes. Off, training still observes the input's range (the solver's
  /// delay before quantization starts).
  public var isQuantizing = true
  /// Whether evaluation observes the ranges too (post-training calibration).
  public var observesInEvaluation = false
  /// Whether evaluation runs FBGEMM's int8 kernels (INT8 inference) instead of fake quantization.
  public var runsInt8 = false {
    didSet { kernel = nil }
  }
  /// The int8 layer, prepacked at its first evaluation.
  private(set) var kernel: (layer: Int8Layer, input: Int8Layer.Quantization, output: Int8Layer.Quantization)?

  /// The smallest scale (float32's epsilon, as PyTorch's observers): a constant tensor would
  /// otherwise divide by zero.
  static let smallestScale = 1.1920929e-07

  public init(_ settings: FakeQuantization = FakeQuantization()) {
    _inputRange = Buffer(Tensor.zeros([2]))
    _outputRange = Buffer(Tensor.zeros([2]))
    _observedBatches = Buffer(Tensor.zeros([], dtype: .int64))
    self.settings = settings
    super.init()
  }

  /// Symmetric int8 fake quantization per output channel (the first axis): each channel's
  /// largest magnitude maps to 127. Gradients pass straight through (nothing is clamped).
  public func weight(_ w: Tensor) -> Tensor {
    guard isQuantizing else { return w }
    let zeroPoints = Tensor.zeros([w.shape[0]], dtype: .int32, device: w.device)
    return Functional.fakeQuantize(w, scales: weightScales(w), zeroPoints: zeroPoints, axis: 0, range: -127...127)
  }

  /// The scale of each output channel of `w` (float32): its largest magnitude over 127.
  public func weightScales(_ w: Tensor) -> Tensor {
    withNoGrad { (w.detached().abs().max(axes: Array(1..<w.rank)).to(.float32) / 127).clamped(min: Self.smallestScale) }
  }

  /// The input observed (in training) and fake-quantized with the observed range.
  public func input(_ x: Tensor) -> Tensor {
    // A checkpointed segment's second run (in backward) must see the range its first run used.
    if observes { observe(x, into: inputRange, counting: true) }
    guard isQuantizing, isTraining || observedBatches.intValue() > 0 else { return x }
    let (scale, zeroPoint) = inputQuantization()
    return quantized(x, scale: scale, zeroPoint: zeroPoint, range: settings.activation.range)
  }

  /// The layer's output observed (in training and calibration) and fake-quantized to uint8 over
  /// the observed range.
  public func output(_ y: Tensor) -> Tensor {
    if observes { observe(y, into: outputRange, counting: false) }
    guard isQuantizing, isTraining || observedBatches.intValue() > 0 else { return y }
    let (scale, zeroPoint) = Self.uint8Quantization(outputRange)
    return quantized(y, scale: scale, zeroPoint: zeroPoint, range: 0...255)
  }

  /// `x` fake-quantized, with the gradient `settings.gradient` says.
  private func quantized(_ x: Tensor, scale: Tensor, zeroPoint: Tensor, range: ClosedRange<Int>) -> Tensor {
    // Under autocast the previous layer may hand over bfloat16 or float16; the rounding is
    // float32's (the next convolution casts back).
    let x = x.dtype == .float32 || x.dtype == .float64 ? x : x.to(.float32)
    let rounded = Functional.fakeQuantize(x, scale: scale, zeroPoint: zeroPoint, range: range)
    switch settings.gradient {
    case .clip: return rounded
    // The quantized values, with the identity's gradient (x − x is exactly 0).
    case .straightThrough: return rounded.detached() + (x - x.detached())
    }
  }

  /// The scale (float32) and zero point (int32) of the input, one element each, from
  /// `inputRange`: what the fake quantization uses, and what an INT8 model quantizes with.
  public func inputQuantization() -> (scale: Tensor, zeroPoint: Tensor) {
    switch settings.activation {
    case .uint8: return Self.uint8Quantization(inputRange)
    case .int8:
      return withNoGrad {
        let high = inputRange[1].clamped(min: 0).maximum(-inputRange[0].clamped(max: 0))
        let scale = (high / 127).clamped(min: Self.smallestScale).reshaped([1])
        return (scale, Tensor.zeros([1], dtype: .int32, device: scale.device))
      }
    }
  }

  /// The asymmetric 0…255 quantization of `range` ([min, max]) widened to hold 0.
  static func uint8Quantization(_ range: Tensor) -> (scale: Tensor, zeroPoint: Tensor) {
    withNoGrad {
      let low = range[0].clamped(max: 0)
      let high = range[1].clamped(min: 0)
      let scale = ((high - low) / 255).clamped(min: smallestScale).reshaped([1])
      let zeroPoint = (-low.reshaped([1]) / scale).rounded().clamped(min: 0, max: 255).to(.int32)
      return (scale, zeroPoint)
    }
  }

  /// Whether this forward observes the ranges: in training, and in calibration. A checkpointed
  /// segment's second run (in backward) must see the ranges its first run used.
  private var observes: Bool { (isTraining || observesInEvaluation) && !Checkpoint.isRecomputing }

  /// Folds the batch's min and max into `range` (the first batch sets it); `counting` the
  /// batch in `observedBatches`, which the input's observation does before the output's.
  func observe(_ x: Tensor, into range: Tensor, counting: Bool) {
    withNoGrad {
      let values = x.detached()
      let current = Tensor.stack([values.min(), values.max()]).to(.float32)
      let blended = range * settings.decay + current * (1 - settings.decay)
      let earlier = counting ? observedBatches .> 0 : observedBatches .> 1
      range.copy(from: Tensor.select(where: earlier, blended, current))
      if counting { observedBatches += 1 }
    }
  }

  /// The layer in evaluation once its ranges were observed, computed as INT8 kernels compute
  /// it: by FBGEMM's kernels with `runsInt8` (`pack` prepacks the weights with `weightScales`
  /// at the first call), else by `integerArithmetic` with `accumulate`. Nil in training, in
  /// calibration, or before a range was observed: the caller then fake-quantizes in floating
  /// point. `channelAxis` is the output's channel axis.
  public func evaluated(
    _ x: Tensor, weight: Tensor, bias: Tensor?, channelAxis: Int, pack: () -> Int8Layer?,
    accumulate: (Tensor, Tensor) -> Tensor
  ) -> Tensor? {
    guard !isTraining, isQuantizing, !observesInEvaluation, observedBatches.intValue() > 0 else { return nil }
    if runsInt8 {
      if kernel == nil, let layer = pack() { kernel = (layer, integerInput(), integerOutput()) }
      if let kernel { return kernel.layer(x, input: kernel.input, output: kernel.output) }
    }
    return integerArithmetic(x, weight: weight, bias: bias, channelAxis: channelAxis, accumulate: accumulate)
  }

  /// What the INT8 kernels compute, bit for bit, in floating point: the layer (`accumulate`)
  /// applied to the integer codes of the input (less its zero point) and of the weights in
  /// float64, where their sums are exact; then FBGEMM's requantization in float32: the bias
  /// over input scale × weight scale added, the sum times (input scale × weight scale) / output
  /// scale, rounded half to even, plus the output's zero point, clamped to 0…255; returned
  /// dequantized. Fake quantization in float32 (training's forward) rounds its sums, and that
  /// moves about one output in 10⁵ to the other neighbour; in a deep network the next layers
  /// spread such a step until detections move, which is why evaluation computes exactly.
  func integerArithmetic(
    _ x: Tensor, weight: Tensor, bias: Tensor?, channelAxis: Int, accumulate: (Tensor, Tensor) -> Tensor
  ) -> Tensor {
    withNoGrad {
      let (inputScale, inputZeroPoint) = inputQuantization()
      let x = x.dtype == .float32 ? x : x.to(.float32)
      // Fake quantization gives scale × (code − zero point); dividing by the scale and rounding
      // recovers the code less the zero point exactly.
      let inputCodes = (Functional.fakeQuantize(
        x, scale: inputScale, zeroPoint: inputZeroPoint, range: settings.activation.range) / inputScale).rounded()
      let scales = weightScales(weight)
      let channelScales = scales.reshaped([-1] + Array(repeating: 1, count: weight.rank - 1))
      let weightCodes = (self.weight(weight.to(.float32)) / channelScales).rounded()
      // Autocast leaves float64 alone, so the sums stay exact under it too.
      let sums = accumulate(inputCodes.to(.float64), weightCodes.to(.float64)).to(.float32)
      let (outputScale, outputZeroPoint) = Self.uint8Quantization(outputRange)
      var channelShape = Array(repeating: 1, count: sums.rank)
      channelShape[channelAxis < 0 ? sums.rank + channelAxis : channelAxis] = -1
      let accumulationScale = inputScale * scales
      let multiplier = (accumulationScale / outputScale).reshaped(channelShape)
      let shifted = bias.map { sums + ($0.to(.float32) / accumulationScale).reshaped(channelShape) } ?? sums
      let zeroPoint = outputZeroPoint.to(.float32)
      let codes = ((shifted * multiplier).rounded() + zeroPoint).clamped(min: 0, max: 255)
      return (codes - zeroPoint) * outputScale
    }
  }

  /// The input's quantization as FBGEMM takes it: uint8, a symmetric range shifted by 128.
  func integerInput() -> Int8Layer.Quantization {
    let (scale, zeroPoint) = inputQuantization()
    return Int8Layer.Quantization(
      scale: scale.doubleValue(), zeroPoint: zeroPoint.intValue() + (settings.activation == .int8 ? 128 : 0))
  }

  /// The output's: uint8 over `outputRange` widened to hold 0, as `output(_:)` quantizes.
  func integerOutput() -> Int8Layer.Quantization {
    let (scale, zeroPoint) = Self.uint8Quantization(outputRange)
    return Int8Layer.Quantization(scale: scale.doubleValue(), zeroPoint: zeroPoint.intValue())
  }
}

extension Module {
  /// Gives every convolution (`conv`) and linear layer (`linear`) of the tree a fake quantizer
  /// with `settings` (quantization-aware training); other layers stay in floating point.
  public func enableFakeQuantization(_ settings: FakeQuantization, convolutions: Bool, linearLayers: Bool) {
    for (_, module) in namedModules() {
      if convolutions, let conv = module as? Conv2d { conv.fakeQuantizer = FakeQuantizer(settings) }
      if linearLayers, let linear = module as? Linear { linear.fakeQuantizer = FakeQuantizer(settings) }
    }
  }

  /// Switches the fake quantizers of the tree on or off (off: they observe only).
  public func setFakeQuantizing(_ on: Bool) {
    for quantizer in fakeQuantizers { quantizer.isQuantizing = on }
  }

  /// Post-training calibration: on, the fake quantizers forget their ranges and observe what
  /// evaluation passes them, without quantizing; off, they quantize with what they observed.
  public func setFakeQuantizersCalibrating(_ on: Bool) {
    for quantizer in fakeQuantizers {
      if on { withNoGrad { quantizer.observedBatches.zero() } }
      quantizer.observesInEvaluation = on
      quantizer.isQuantizing = !on
    }
  }

  /// The fake quantizers of the tree.
  public var fakeQuantizers: [FakeQuantizer] { namedModules().compactMap { $0.1 as? FakeQuantizer } }

  /// INT8 inference: the quantized layers run FBGEMM's int8 kernels in evaluation (on), or fake
  /// quantization (off). Returns the paths of the fake quantizers whose ranges were never
  /// observed (neither trained nor calibrated; an output range of [0, 0] counts as unobserved,
  /// as in weights written before output ranges were kept), and switches nothing on unless
  /// there are none.
  @discardableResult
  public func useInt8Kernels(_ on: Bool = true) -> [String] {
    let quantizers = namedModules().compactMap { path, module in (module as? FakeQuantizer).map { (path, $0) } }
    let unobserved = quantizers.filter { $0.1.observedBatches.intValue() == 0 || $0.1.outputRange.abs().max().doubleValue() == 0 }
      .map(\.0)
    if on && !unobserved.isEmpty { return unobserved }
    for (_, quantizer) in quantizers { quantizer.runsInt8 = on }
    return []
  }
}
