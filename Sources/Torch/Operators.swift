import CTorch

// Element-wise arithmetic and comparison. Every operator has all three overloads
// (tensor-tensor, tensor-number, number-tensor): dropping one makes long formulas fail to
// type-check in reasonable time. Numbers keep their kind, so `intTensor + 1` stays integral.

infix operator .== : ComparisonPrecedence
infix operator .!= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence
infix operator .&& : LogicalConjunctionPrecedence
infix operator .|| : LogicalDisjunctionPrecedence

/// Binary element-wise operations shared by the operators and named methods.
enum BinaryOp: Int32 {
  case add, sub, mul, div, pow, maximum, minimum, atan2, remainder, floorDivide
  case eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalXor
  case bitwiseAnd, bitwiseOr, bitwiseXor, divTrunc

  var name: String { String(describing: self) }
}

extension Tensor {
  @inline(__always)
  func binary(_ op: BinaryOp, _ other: Tensor) -> Tensor {
    Tensor.make(op.name) { ct_binary(op.rawValue, handle, other.handle, $0) }
  }

  @inline(__always)
  func binary(_ op: BinaryOp, _ other: Scalar) -> Tensor {
    Tensor.make(op.name) { ct_binary_scalar(op.rawValue, handle, other.c, $0) }
  }

  @inline(__always)
  func reversedBinary(_ op: BinaryOp, _ other: Scalar) -> Tensor {
    Tensor.make(op.name) { ct_scalar_binary(op.rawValue, other.c, handle, $0) }
  }

  public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.add, rhs) }
  public static func + (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.add, rhs.scalar) }
  public static func + (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.reversedBinary(.add, lhs.scalar) }

  public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.sub, rhs) }
  public static func - (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.sub, rhs.scalar) }
  public static func - (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.reversedBinary(.sub, lhs.scalar) }

  public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.mul, rhs) }
  public static func * (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.mul, rhs.scalar) }
  public static func * (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.reversedBinary(.mul, lhs.scalar) }

  /// True division: integer tensors give a floating-point result, as in PyTorch.
  public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.div, rhs) }
  public static func / (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.div, rhs.scalar) }
  public static func / (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.reversedBinary(.div, lhs.scalar) }

  /// Python-style remainder (the sign follows the divisor).
  public static func % (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.remainder, rhs) }
  public static func % (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.remainder, rhs.scalar) }
  public static func % (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor {
    rhs.reversedBinary(.remainder, lhs.scalar)
  }

  public static prefix func - (operand: Tensor) -> Tensor { operand.negated() }

  // In-place compound assignment, as in PyTorch: the tensor object (and every view of it) changes.
  public static func += (lhs: Tensor, rhs: Tensor) { lhs.inPlace(.add, rhs) }
  public static func += (lhs: Tensor, rhs: some ScalarConvertible) { lhs.inPlace(.add, rhs.scalar) }
  public static func -= (lhs: Tensor, rhs: Tensor) { lhs.inPlace(.sub, rhs) }
  public static func -= (lhs: Tensor, rhs: some ScalarConvertible) { lhs.inPlace(.sub, rhs.scalar) }
  public static func *= (lhs: Tensor, rhs: Tensor) { lhs.inPlace(.mul, rhs) }
  public static func *= (lhs: Tensor, rhs: some ScalarConvertible) { lhs.inPlace(.mul, rhs.scalar) }
  public static func /= (lhs: Tensor, rhs: Tensor) { lhs.inPlace(.div, rhs) }
  public static func /= (lhs: Tensor, rhs: some ScalarConvertible) { lhs.inPlace(.div, rhs.scalar) }

  func inPlace(_ op: BinaryOp, _ other: Tensor) {
    check("\(op.name)_", ct_binary_(op.rawValue, handle, other.handle))
  }

  func inPlace(_ op: BinaryOp, _ other: Scalar) {
    check("\(op.name)_", ct_binary_scalar_(op.rawValue, handle, other.c))
  }

  // MARK: Comparisons (results are bool tensors)

  public static func .== (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.eq, rhs) }
  public static func .== (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.eq, rhs.scalar) }
  public static func .== (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.eq, lhs.scalar) }
  public static func .!= (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.ne, rhs) }
  public static func .!= (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.ne, rhs.scalar) }
  public static func .!= (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.ne, lhs.scalar) }
  public static func .< (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.lt, rhs) }
  public static func .< (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.lt, rhs.scalar) }
  public static func .< (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.gt, lhs.scalar) }
  public static func .<= (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.le, rhs) }
  public static func .<= (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.le, rhs.scalar) }
  public static func .<= (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.ge, lhs.scalar) }
  public static func .> (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.gt, rhs) }
  public static func .> (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.gt, rhs.scalar) }
  public static func .> (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.lt, lhs.scalar) }
  public static func .>= (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.ge, rhs) }
  public static func .>= (lhs: Tensor, rhs: some ScalarConvertible) -> Tensor { lhs.binary(.ge, rhs.scalar) }
  public static func .>= (lhs: some ScalarConvertible, rhs: Tensor) -> Tensor { rhs.binary(.le, lhs.scalar) }

  /// Element-wise logical and / or of bool tensors.
  public static func .&& (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.logicalAnd, rhs) }
  public static func .|| (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.binary(.logicalOr, rhs) }
  public static prefix func ! (operand: Tensor) -> Tensor { operand.unary(.logicalNot) }

  public func logicalXor(_ other: Tensor) -> Tensor { binary(.logicalXor, other) }
  public func bitwiseAnd(_ other: Tensor) -> Tensor { binary(.bitwiseAnd, other) }
  public func bitwiseOr(_ other: Tensor) -> Tensor { binary(.bitwiseOr, other) }
  public func bitwiseXor(_ other: Tensor) -> Tensor { binary(.bitwiseXor, other) }

  // MARK: Named binary operations

  public func pow(_ exponent: Tensor) -> Tensor { binary(.pow, exponent) }
  public func pow(_ exponent: some ScalarConvertible) -> Tensor { binary(.pow, exponent.scalar) }
  /// Element-wise larger of two tensors (PyTorch `maximum`).
  public func maximum(_ other: Tensor) -> Tensor { binary(.maximum, other) }
  public func maximum(_ other: some ScalarConvertible) -> Tensor { clamped(min: other) }
  /// Element-wise smaller of two tensors (PyTorch `minimum`).
  public func minimum(_ other: Tensor) -> Tensor { binary(.minimum, other) }
  public func minimum(_ other: some ScalarConvertible) -> Tensor { clamped(max: other) }
  public func atan2(_ other: Tensor) -> Tensor { binary(.atan2, other) }
  /// Division rounded towards negative infinity.
  public func floorDivided(by other: Tensor) -> Tensor { binary(.floorDivide, other) }
  public func floorDivided(by other: some ScalarConvertible) -> Tensor { binary(.floorDivide, other.scalar) }
  /// Division rounded towards zero.
  public func truncDivided(by other: Tensor) -> Tensor { binary(.divTrunc, other) }
  public func truncDivided(by other: some ScalarConvertible) -> Tensor { binary(.divTrunc, other.scalar) }

  /// Whether both tensors have the same shape and elements within `rtol·|other| + atol`.
  public func isClose(
    to other: Tensor, relativeTolerance rtol: Double = 1e-5, absoluteTolerance atol: Double = 1e-8,
    equalNaN: Bool = false
  ) -> Bool {
    // libtorch's allclose broadcasts, so [1, 1, 1] would be "close" to [1]; the shapes must agree.
    guard shape == other.shape else { return false }
    var out: Int32 = 0
    check("isClose", ct_allclose(handle, other.handle, rtol, atol, equalNaN ? 1 : 0, &out))
    return out != 0
  }

  /// Whether both tensors have the same shape and exactly equal elements.
  public func isEqual(to other: Tensor) -> Bool {
    var out: Int32 = 0
    check("isEqual", ct_equal(handle, other.handle, &out))
    return out != 0
  }

  /// Picks from `a` where `condition` is true and from `b` elsewhere (PyTorch `where`).
  public static func select(where condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    make("select(where:)") { ct_where(condition.handle, a.handle, b.handle, $0) }
  }

  /// Picks `self` where `condition` is true and `other` elsewhere.
  public func replacing(with other: Tensor, where condition: Tensor) -> Tensor {
    Tensor.select(where: condition, other, self)
  }
}
