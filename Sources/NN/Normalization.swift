import Torch

/// Batch normalisation over NCHW input (`torch.nn.BatchNorm2d`): batch statistics in training
/// (and running averages updated), running averages in evaluation.
public final class BatchNorm2d: Module, UnaryLayer {
  @Parameter public var weight: Tensor?
  @Parameter public var bias: Tensor?
  @Buffer public var runningMean: Tensor?
  @Buffer public var runningVar: Tensor?
  @Buffer public var numBatchesTracked: Tensor?
  public let epsilon: Double
  public let momentum: Double

  public init(
    features: Int, epsilon: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
    trackRunningStatistics: Bool = true
  ) {
    _weight = Parameter(affine ? Tensor.ones([features]) : nil)
    _bias = Parameter(affine ? Tensor.zeros([features]) : nil)
    _runningMean = Buffer(trackRunningStatistics ? Tensor.zeros([features]) : nil)
    _runningVar = Buffer(trackRunningStatistics ? Tensor.ones([features]) : nil)
    _numBatchesTracked = Buffer(trackRunningStatistics ? Tensor.zeros([], dtype: .int64) : nil)
    self.epsilon = epsilon
    self.momentum = momentum
    super.init()
  }

  public convenience init(_ features: Int) { self.init(features: features) }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let useBatchStatistics = isTraining || runningMean == nil
    // A checkpointed segment's second run (in backward) sees the same batch again: its
    // statistics were taken into the running ones the first time.
    let updatesStatistics = isTraining && !Checkpoint.isRecomputing
    if updatesStatistics, let counter = numBatchesTracked {
      withNoGrad { counter += 1 }
    }
    return Functional.batchNorm(
      x, runningMean: updatesStatistics || !isTraining ? runningMean : nil,
      runningVariance: updatesStatistics || !isTraining ? runningVar : nil, weight: weight, bias: bias,
      training: useBatchStatistics, momentum: momentum, epsilon: epsilon)
  }
}

/// Cross-process batch norm (`torch.nn.SyncBatchNorm`): in training, the statistics of the
/// batch that all processes of a data-parallel run hold together, with the exact gradient (see
/// `Functional.syncBatchNorm` for what crosses processes and the gradient convention). Without a
/// process group it is `BatchNorm2d`, computed the same way; in evaluation it uses the running
/// statistics and talks to no one. Names as `BatchNorm2d`'s, so batch norm checkpoints load.
///
/// The group is fixed when the layer is made, `processGroup` unless given: the trainer of a
/// distributed run builds its model inside `SyncBatchNorm2d.$processGroup.withValue(...)`.
/// Every process must then run each such layer at the same point of its forward and backward.
public final class SyncBatchNorm2d: Module, UnaryLayer {
  /// The group of the layers made in this task (a task local, so models built concurrently,
  /// tests among them, do not see each other's groups); nil, the default, makes single-process
  /// layers.
  @TaskLocal public static var processGroup: ProcessGroup? = nil

  @Parameter public var weight: Tensor?
  @Parameter public var bias: Tensor?
  @Buffer public var runningMean: Tensor?
  @Buffer public var runningVar: Tensor?
  @Buffer public var numBatchesTracked: Tensor?
  public let epsilon: Double
  public let momentum: Double
  /// The processes whose batches are normalised together; nil: this process alone.
  public let group: ProcessGroup?

  /// - Parameter group: the group to synchronise over (nil: this process alone); by default
  ///   `SyncBatchNorm2d.processGroup` of this task.
  public init(
    features: Int, epsilon: Double = 1e-5, momentum: Double = 0.1, affine: Bool = true,
    trackRunningStatistics: Bool = true, group: ProcessGroup? = SyncBatchNorm2d.processGroup
  ) {
    _weight = Parameter(affine ? Tensor.ones([features]) : nil)
    _bias = Parameter(affine ? Tensor.zeros([features]) : nil)
    _runningMean = Buffer(trackRunningStatistics ? Tensor.zeros([features]) : nil)
    _runningVar = Buffer(trackRunningStatistics ? Tensor.ones([features]) : nil)
    _numBatchesTracked = Buffer(trackRunningStatistics ? Tensor.zeros([], dtype: .int64) : nil)
    self.epsilon = epsilon
    self.momentum = momentum
    self.group = group
    super.init()
  }

  public convenience init(_ features: Int) { self.init(features: features) }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    // As BatchNorm2d: batch statistics in training, or without running ones; and a checkpointed
    // segment's second run (in backward) leaves the running statistics as its first run left
    // them. That second run still synchronises: every process recomputes the segment alike.
    let useBatchStatistics = isTraining || runningMean == nil
    let updatesStatistics = isTraining && !Checkpoint.isRecomputing
    if updatesStatistics, let counter = numBatchesTracked {
      withNoGrad { counter += 1 }
    }
    // Synchronised only in training (as PyTorch's: evaluation without running statistics
    // normalises each process's batch alone).
    guard isTraining, let group, group.size > 1 else {
      return Functional.batchNorm(
        x, runningMean: updatesStatistics || !isTraining ? runningMean : nil,
        runningVariance: updatesStatistics || !isTraining ? runningVar : nil, weight: weight, bias: bias,
        training: useBatchStatistics, momentum: momentum, epsilon: epsilon)
    }
    return Functional.syncBatchNorm(
      x, weight: weight, bias: bias, runningMean: updatesStatistics ? runningMean : nil,
      runningVariance: updatesStatistics ? runningVar : nil, momentum: momentum, epsilon: epsilon, group: group)
  }
}

/// In-place activated batch norm (Rota Bulò et al. 2018, InPlace-ABN): batch normalisation fused
/// with a leaky ReLU (or no activation), keeping only its output for backward, so the layer's
/// input is not held; backward recovers the normalised input by inverting the activation and the
/// affine transform. For that the affine scale is |γ| + ε (InPlace-ABN's parametrisation), which
/// equals γ for the positive scales batch norms usually have. Names as `BatchNorm2d`'s, so batch
/// norm checkpoints load.
///
/// In training the output is written over the input when the input is an intermediate of the
/// graph being recorded (a convolution's output): do not read such an input afterwards. A leaf
/// (user data, or a tensor made without recording) or a view is left alone and the output is a
/// new tensor.
///
/// Given a process group (SyncIABN), training uses the statistics of the batch all its processes
/// hold together, as `SyncBatchNorm2d` does, and keeps only its output as well.
public final class InPlaceABN: Module, UnaryLayer {
  @Parameter public var weight: Tensor
  @Parameter public var bias: Tensor
  @Buffer public var runningMean: Tensor
  @Buffer public var runningVar: Tensor
  @Buffer public var numBatchesTracked: Tensor
  public let epsilon: Double
  public let momentum: Double
  /// The leaky ReLU's slope for negative inputs; nil: no activation (before a residual sum).
  public let slope: Double?
  /// The processes whose batches are normalised together in training; nil: this process alone.
  public let group: ProcessGroup?

  /// - Parameter group: the group to synchronise over (SyncIABN); nil, the default, for this
  ///   process alone. Models of a distributed run take `SyncBatchNorm2d.processGroup`.
  public init(
    features: Int, slope: Double? = 0.01, epsilon: Double = 1e-5, momentum: Double = 0.1, group: ProcessGroup? = nil
  ) {
    _weight = Parameter(Tensor.ones([features]))
    _bias = Parameter(Tensor.zeros([features]))
    _runningMean = Buffer(Tensor.zeros([features]))
    _runningVar = Buffer(Tensor.ones([features]))
    _numBatchesTracked = Buffer(Tensor.zeros([], dtype: .int64))
    self.epsilon = epsilon
    self.momentum = momentum
    self.slope = slope
    self.group = group
    super.init()
  }

  /// The affine scale applied: |γ| + ε.
  public var scale: Tensor { weight.abs() + epsilon }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    guard isTraining else {
      let y = Functional.batchNorm(
        x, runningMean: runningMean, runningVariance: runningVar, weight: scale, bias: bias, training: false,
        epsilon: epsilon)
      return slope.map { y.leakyRelu(negativeSlope: $0) } ?? y
    }
    // A checkpointed segment's second run leaves the statistics as the first run left them.
    let updatesStatistics = !Checkpoint.isRecomputing
    if updatesStatistics { withNoGrad { numBatchesTracked += 1 } }
    return Functional.inPlaceActivatedBatchNorm(
      x, weight: scale, bias: bias, runningMean: updatesStatistics ? runningMean : nil,
      runningVariance: updatesStatistics ? runningVar : nil, momentum: momentum, epsilon: epsilon, slope: slope ?? 1,
      activation: slope != nil, group: group)
  }
}

/// Batch normalisation with fixed statistics and affine parameters, all stored as buffers
/// (torchvision's `FrozenBatchNorm2d`): what detectors use when fine-tuning with small batches.
/// The layer reduces to a per-channel scale and shift.
public final class FrozenBatchNorm2d: Module, UnaryLayer {
  @Buffer public var weight: Tensor
  @Buffer public var bias: Tensor
  @Buffer public var runningMean: Tensor
  @Buffer public var runningVar: Tensor
  public let epsilon: Double

  public init(features: Int, epsilon: Double = 1e-5) {
    _weight = Buffer(Tensor.ones([features]))
    _bias = Buffer(Tensor.zeros([features]))
    _runningMean = Buffer(Tensor.zeros([features]))
    _runningVar = Buffer(Tensor.ones([features]))
    self.epsilon = epsilon
    super.init()
  }

  public convenience init(_ features: Int) { self.init(features: features) }

  /// The per-channel `(scale, shift)` such that the layer computes `x * scale + shift`.
  public func scaleAndShift() -> (scale: Tensor, shift: Tensor) {
    let scale = weight * (runningVar + epsilon).rsqrt()
    let shift = bias - runningMean * scale
    return (scale, shift)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let (scale, shift) = scaleAndShift()
    let c = scale.shape[0]
    return x * scale.reshaped([1, c, 1, 1]) + shift.reshaped([1, c, 1, 1])
  }

  /// `self(convolution(x))` computed as one convolution: the weights scaled per output channel
  /// and the shift as its bias. The result differs from the two-step form only by float
  /// rounding, and the pass over the activations (and its backward) disappears, which is most of
  /// what frozen batch norm costs. Gradients still reach the convolution's weights. A fake-
  /// quantized convolution quantizes the folded weights, as an INT8 model holds them.
  public func folded(into convolution: Conv2d, applyingTo x: Tensor) -> Tensor {
    let (scale, shift) = scaleAndShift()
    let weight = convolution.weight * scale.reshaped([scale.shape[0], 1, 1, 1])
    let bias = convolution.bias.map { $0 * scale + shift } ?? shift
    return convolution.convolve(x, weight: weight, bias: bias)
  }
}

/// Group normalisation (`torch.nn.GroupNorm`): statistics over channel groups of each sample, so
/// it behaves the same for any batch size.
public final class GroupNorm: Module, UnaryLayer {
  @Parameter public var weight: Tensor?
  @Parameter public var bias: Tensor?
  public let groups: Int
  public let epsilon: Double

  public init(groups: Int, channels: Int, epsilon: Double = 1e-5, affine: Bool = true) {
    precondition(channels % groups == 0, "GroupNorm: \(channels) channels are not divisible into \(groups) groups")
    _weight = Parameter(affine ? Tensor.ones([channels]) : nil)
    _bias = Parameter(affine ? Tensor.zeros([channels]) : nil)
    self.groups = groups
    self.epsilon = epsilon
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon)
  }
}

/// Layer normalisation over the trailing `normalizedShape` dimensions (`torch.nn.LayerNorm`).
public final class LayerNorm: Module, UnaryLayer {
  @Parameter public var weight: Tensor?
  @Parameter public var bias: Tensor?
  public let normalizedShape: [Int]
  public let epsilon: Double

  public init(_ normalizedShape: [Int], epsilon: Double = 1e-5, affine: Bool = true) {
    _weight = Parameter(affine ? Tensor.ones(normalizedShape) : nil)
    _bias = Parameter(affine ? Tensor.zeros(normalizedShape) : nil)
    self.normalizedShape = normalizedShape
    self.epsilon = epsilon
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.layerNorm(x, normalizedShape: normalizedShape, weight: weight, bias: bias, epsilon: epsilon)
  }
}
