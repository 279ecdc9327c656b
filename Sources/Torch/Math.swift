import CTorch

/// Element-wise functions of one tensor, in the C shim's order.
public enum UnaryFunction: Int32, Sendable {
  case negate, abs, exp, log, log2, log1p, expm1, sqrt, rsqrt, square, reciprocal
  case sin, cos, tan, atan, floor, ceil, round, trunc, sign, logicalNot
  case sigmoid, tanh, relu, relu6, gelu, silu, softplus, logSigmoid, isNaN, isFinite
  case hardSwish, hardSigmoid, mish, erf, bitwiseNot, isInfinite
}

extension Tensor {
  @inline(__always)
  func unary(_ f: UnaryFunction) -> Tensor {
    Tensor.make(String(describing: f)) { ct_unary(f.rawValue, handle, $0) }
  }

  public func negated() -> Tensor { unary(.negate) }
  public func abs() -> Tensor { unary(.abs) }
  public func exp() -> Tensor { unary(.exp) }
  public func log() -> Tensor { unary(.log) }
  public func log2() -> Tensor { unary(.log2) }
  /// `log(1 + x)`, accurate for small x.
  public func log1p() -> Tensor { unary(.log1p) }
  /// `exp(x) - 1`, accurate for small x.
  public func expm1() -> Tensor { unary(.expm1) }
  public func sqrt() -> Tensor { unary(.sqrt) }
  public func rsqrt() -> Tensor { unary(.rsqrt) }
  public func squared() -> Tensor { unary(.square) }
  public func reciprocal() -> Tensor { unary(.reciprocal) }
  public func sin() -> Tensor { unary(.sin) }
  public func cos() -> Tensor { unary(.cos) }
  public func tan() -> Tensor { unary(.tan) }
  public func atan() -> Tensor { unary(.atan) }
  public func floor() -> Tensor { unary(.floor) }
  public func ceil() -> Tensor { unary(.ceil) }
  /// Rounds half to even, as PyTorch does.
  public func rounded() -> Tensor { unary(.round) }
  public func truncated() -> Tensor { unary(.trunc) }
  public func sign() -> Tensor { unary(.sign) }
  public func erf() -> Tensor { unary(.erf) }
  public func isNaN() -> Tensor { unary(.isNaN) }
  public func isFinite() -> Tensor { unary(.isFinite) }
  public func isInfinite() -> Tensor { unary(.isInfinite) }
  public func bitwiseNot() -> Tensor { unary(.bitwiseNot) }

  // MARK: Activations

  public func relu() -> Tensor { unary(.relu) }
  /// `min(max(x, 0), 6)`.
  public func relu6() -> Tensor { unary(.relu6) }
  public func sigmoid() -> Tensor { unary(.sigmoid) }
  public func tanh() -> Tensor { unary(.tanh) }
  /// GELU with the exact (erf) formula.
  public func gelu() -> Tensor { unary(.gelu) }
  /// `x * sigmoid(x)`, also called swish.
  public func silu() -> Tensor { unary(.silu) }
  public func softplus() -> Tensor { unary(.softplus) }
  public func logSigmoid() -> Tensor { unary(.logSigmoid) }
  public func hardSwish() -> Tensor { unary(.hardSwish) }
  public func hardSigmoid() -> Tensor { unary(.hardSigmoid) }
  public func mish() -> Tensor { unary(.mish) }

  public func leakyRelu(negativeSlope: Double = 0.01) -> Tensor {
    Tensor.make("leakyRelu") { ct_leaky_relu(handle, negativeSlope, $0) }
  }

  public func elu(alpha: Double = 1) -> Tensor { Tensor.make("elu") { ct_elu(handle, alpha, $0) } }

  public func hardTanh(min: Double = -1, max: Double = 1) -> Tensor {
    Tensor.make("hardTanh") { ct_hardtanh(handle, min, max, $0) }
  }

  /// Softmax along `axis`.
  public func softmax(axis: Int) -> Tensor { Tensor.make("softmax") { ct_softmax(handle, Int64(axis), 0, $0) } }

  /// Log of the softmax along `axis`, computed stably.
  public func logSoftmax(axis: Int) -> Tensor {
    Tensor.make("logSoftmax") { ct_softmax(handle, Int64(axis), 1, $0) }
  }

  // MARK: Clamping

  /// Elements limited to `min...max`; either bound may be left out. NaN stays NaN.
  public func clamped(min: (some ScalarConvertible)? = Double?.none, max: (some ScalarConvertible)? = Double?.none)
    -> Tensor
  {
    let lo = min?.scalar ?? .float(0)
    let hi = max?.scalar ?? .float(0)
    return Tensor.make("clamped") { ct_clamp(handle, min == nil ? 0 : 1, lo.c, max == nil ? 0 : 1, hi.c, $0) }
  }

  /// Elements limited element-wise by tensor bounds; either may be nil.
  public func clamped(min: Tensor?, max: Tensor?) -> Tensor {
    withExtendedLifetime((min, max)) {
      Tensor.make("clamped") { ct_clamp_tensor(handle, min?.handle, max?.handle, $0) }
    }
  }

  // MARK: Matrix products

  /// Matrix product with PyTorch's `matmul` broadcasting rules.
  public func matmul(_ other: Tensor) -> Tensor { Tensor.make("matmul") { ct_matmul(handle, other.handle, $0) } }
}
