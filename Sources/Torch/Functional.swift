import CTorch

/// How a loss combines its per-element values.
public enum LossReduction: Int32, Sendable, Codable {
  case none = 0
  case mean = 1
  case sum = 2
}

/// How `interpolated` computes new pixels.
public enum InterpolationMode: Int32, Sendable {
  case nearest = 0
  case bilinear = 1
  case bicubic = 2
  /// Nearest with the pixel-centre convention that PIL and OpenCV use.
  case nearestExact = 3
}

/// Neural-network operations on NCHW tensors, named after `torch.nn.functional`.
public enum Functional {
  /// `x · weightᵀ + bias`.
  public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    withExtendedLifetime(bias) {
      Tensor.make("linear") { ct_linear(x.handle, weight.handle, bias?.handle, $0) }
    }
  }

  public static func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) -> Tensor {
    let s = [Int64(stride.0), Int64(stride.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    return withExtendedLifetime(bias) {
      Tensor.make("conv2d") { ct_conv2d(x.handle, weight.handle, bias?.handle, s, p, d, Int64(groups), $0) }
    }
  }

  /// The transpose (gradient) of `conv2d`, used for learned upsampling. `weight` is
  /// `[inputChannels, outputChannels / groups, kh, kw]`.
  public static func convTranspose2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) -> Tensor {
    let s = [Int64(stride.0), Int64(stride.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    let o = [Int64(outputPadding.0), Int64(outputPadding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    return withExtendedLifetime(bias) {
      Tensor.make("convTranspose2d") {
        ct_conv_transpose2d(x.handle, weight.handle, bias?.handle, s, p, o, d, Int64(groups), $0)
      }
    }
  }

  /// Max pooling; `stride` defaults to the kernel size.
  public static func maxPool2d(
    _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), ceilMode: Bool = false
  ) -> Tensor {
    let k = [Int64(kernelSize.0), Int64(kernelSize.1)]
    let st = stride ?? kernelSize
    let s = [Int64(st.0), Int64(st.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    return Tensor.make("maxPool2d") { ct_max_pool2d(x.handle, k, s, p, d, ceilMode ? 1 : 0, $0) }
  }

  /// Average pooling; `stride` defaults to the kernel size.
  public static func avgPool2d(
    _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
    ceilMode: Bool = false, countIncludePad: Bool = true
  ) -> Tensor {
    let k = [Int64(kernelSize.0), Int64(kernelSize.1)]
    let st = stride ?? kernelSize
    let s = [Int64(st.0), Int64(st.1)]
    let p = [Int64(padding.0), Int64(padding.1)]
    return Tensor.make("avgPool2d") {
      ct_avg_pool2d(x.handle, k, s, p, ceilMode ? 1 : 0, countIncludePad ? 1 : 0, $0)
    }
  }

  public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
    let o = [Int64(outputSize.0), Int64(outputSize.1)]
    return Tensor.make("adaptiveAvgPool2d") { ct_adaptive_pool2d(0, x.handle, o, $0) }
  }

  public static func adaptiveMaxPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
    let o = [Int64(outputSize.0), Int64(outputSize.1)]
    return Tensor.make("adaptiveMaxPool2d") { ct_adaptive_pool2d(1, x.handle, o, $0) }
  }

  /// Resizes the spatial dimensions of an NCHW tensor to `size` (height, width).
  public static func interpolate(
    _ x: Tensor, size: (Int, Int), mode: InterpolationMode = .nearest, alignCorners: Bool = false
  ) -> Tensor {
    let s = [Int64(size.0), Int64(size.1)]
    return Tensor.make("interpolate") { ct_interpolate(x.handle, mode.rawValue, s, nil, alignCorners ? 1 : 0, $0) }
  }

  /// Resizes the spatial dimensions of an NCHW tensor by `scale` (height, width factors).
  public static func interpolate(
    _ x: Tensor, scale: (Double, Double), mode: InterpolationMode = .nearest, alignCorners: Bool = false
  ) -> Tensor {
    let f = [scale.0, scale.1]
    return Tensor.make("interpolate") { ct_interpolate(x.handle, mode.rawValue, nil, f, alignCorners ? 1 : 0, $0) }
  }

  /// In-place activated batch norm in training (Rota Bulò et al. 2018): batch statistics
  /// (folded into `runningMean` and `runningVariance` when given), the affine transform with
  /// `weight` (positive: InPlace-ABN applies |γ| + ε), then a leaky ReLU of `slope` when
  /// `activation`; autograd keeps only the output, and backward inverts the activation and the
  /// affine transform to recover what it needs. The output overwrites `x` when `x` is an
  /// intermediate of the graph being recorded (not a leaf, not a view); it is a new tensor
  /// otherwise. Fused CPU kernels for float32, float64 and bfloat16, NCHW or channels-last.
  ///
  /// With a `group` of several processes (SyncIABN) the statistics are those of the batch all
  /// of them hold together, and the gradients follow `syncBatchNorm`'s convention; every process
  /// must call it at the same point.
  public static func inPlaceActivatedBatchNorm(
    _ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor?, runningVariance: Tensor?, momentum: Double,
    epsilon: Double, slope: Double, activation: Bool, group: ProcessGroup? = nil
  ) -> Tensor {
    withExtendedLifetime((runningMean, runningVariance, group)) {
      Tensor.make("inPlaceActivatedBatchNorm") {
        ct_inplace_abn(
          x.handle, weight.handle, bias.handle, runningMean?.handle, runningVariance?.handle, momentum, epsilon, slope,
          activation ? 1 : 0, group?.handle, $0)
      }
    }
  }

  /// Batch normalisation. In training the batch statistics normalise and the running ones are
  /// updated in place with `momentum`; in evaluation the running ones normalise.
  public static func batchNorm(
    _ x: Tensor, runningMean: Tensor?, runningVariance: Tensor?, weight: Tensor?, bias: Tensor?,
    training: Bool, momentum: Double = 0.1, epsilon: Double = 1e-5
  ) -> Tensor {
    withExtendedLifetime((runningMean, runningVariance, weight, bias)) {
      Tensor.make("batchNorm") {
        ct_batch_norm(
          x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVariance?.handle, training ? 1 : 0,
          momentum, epsilon, $0)
      }
    }
  }

  public static func groupNorm(
    _ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5
  ) -> Tensor {
    withExtendedLifetime((weight, bias)) {
      Tensor.make("groupNorm") { ct_group_norm(x.handle, Int64(groups), weight?.handle, bias?.handle, epsilon, $0) }
    }
  }

  public static func layerNorm(
    _ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Double = 1e-5
  ) -> Tensor {
    let s = normalizedShape.map(Int64.init)
    return withExtendedLifetime((weight, bias)) {
      Tensor.make("layerNorm") {
        ct_layer_norm(x.handle, s, Int64(s.count), weight?.handle, bias?.handle, epsilon, $0)
      }
    }
  }

  /// Zeroes elements with probability `p` and scales the rest by `1 / (1 - p)` when training.
  public static func dropout(_ x: Tensor, probability p: Double, training: Bool, generator: Generator? = nil)
    -> Tensor
  {
    withExtendedLifetime(generator) {
      Tensor.make("dropout") { ct_dropout(x.handle, p, training ? 1 : 0, generator?.handle, $0) }
    }
  }

  // MARK: Losses

  /// Cross entropy of logits `[N, C, ...]` against class indices `[N, ...]`; targets equal to
  /// `ignoreIndex` contribute nothing (and are left out of the mean).
  public static func crossEntropy(
    _ logits: Tensor, targets: Tensor, weight: Tensor? = nil, reduction: LossReduction = .mean,
    ignoreIndex: Int = -100, labelSmoothing: Double = 0
  ) -> Tensor {
    withExtendedLifetime(weight) {
      Tensor.make("crossEntropy") {
        ct_cross_entropy(
          logits.handle, targets.handle, weight?.handle, reduction.rawValue, Int64(ignoreIndex), labelSmoothing, $0)
      }
    }
  }

  /// Negative log-likelihood of log-probabilities against class indices.
  public static func nllLoss(
    _ logProbabilities: Tensor, targets: Tensor, weight: Tensor? = nil, reduction: LossReduction = .mean,
    ignoreIndex: Int = -100
  ) -> Tensor {
    withExtendedLifetime(weight) {
      Tensor.make("nllLoss") {
        ct_nll_loss(logProbabilities.handle, targets.handle, weight?.handle, reduction.rawValue, Int64(ignoreIndex), $0)
      }
    }
  }

  /// Binary cross entropy on logits, computed stably.
  public static func binaryCrossEntropyWithLogits(
    _ logits: Tensor, targets: Tensor, weight: Tensor? = nil, positiveWeight: Tensor? = nil,
    reduction: LossReduction = .mean
  ) -> Tensor {
    withExtendedLifetime((weight, positiveWeight)) {
      Tensor.make("binaryCrossEntropyWithLogits") {
        ct_bce_with_logits(logits.handle, targets.handle, weight?.handle, positiveWeight?.handle, reduction.rawValue, $0)
      }
    }
  }

  /// Huber-style loss: quadratic below `beta`, linear above (plain L1 when `beta` is 0).
  public static func smoothL1Loss(
    _ input: Tensor, targets: Tensor, beta: Double = 1, reduction: LossReduction = .mean
  ) -> Tensor {
    Tensor.make("smoothL1Loss") { ct_smooth_l1(input.handle, targets.handle, reduction.rawValue, beta, $0) }
  }

  public static func l1Loss(_ input: Tensor, targets: Tensor, reduction: LossReduction = .mean) -> Tensor {
    Tensor.make("l1Loss") { ct_l1_loss(input.handle, targets.handle, reduction.rawValue, $0) }
  }

  public static func mseLoss(_ input: Tensor, targets: Tensor, reduction: LossReduction = .mean) -> Tensor {
    Tensor.make("mseLoss") { ct_mse_loss(input.handle, targets.handle, reduction.rawValue, $0) }
  }

  /// The focal loss of RetinaNet (Lin et al. 2017) on logits against 0/1 targets of the same shape,
  /// with torchvision's `sigmoid_focal_loss` definition: `alpha` < 0 turns the class weighting off.
  public static func sigmoidFocalLoss(
    _ logits: Tensor, targets: Tensor, alpha: Double = 0.25, gamma: Double = 2, reduction: LossReduction = .none
  ) -> Tensor {
    let p = logits.sigmoid()
    let ce = binaryCrossEntropyWithLogits(logits, targets: targets, reduction: .none)
    let pT: Tensor = p * targets + (1 - p) * (1 - targets)
    var loss: Tensor = ce * (1 - pT).pow(gamma)
    if alpha >= 0 {
      let alphaT: Tensor = alpha * targets + (1 - alpha) * (1 - targets)
      loss = alphaT * loss
    }
    switch reduction {
    case .none: return loss
    case .mean: return loss.mean()
    case .sum: return loss.sum()
    }
  }
}
