import CTorch

// In-place updates. Their names are verbs, as the Swift API guidelines ask for mutations; they are
// what optimizers and initialisers use, usually inside `withNoGrad`.
extension Tensor {
  /// Overwrites the elements with those of `source` (broadcast, converted to this dtype).
  public func copy(from source: Tensor) {
    check("copy(from:)", ct_copy_(handle, source.handle))
  }

  /// Sets every element to `value`.
  public func fill(with value: some ScalarConvertible) {
    check("fill(with:)", ct_fill_(handle, value.scalar.c))
  }

  /// Sets every element to zero.
  public func zero() {
    check("zero", ct_zero_(handle))
  }

  /// `self += alpha * other`.
  public func add(_ other: Tensor, scaledBy alpha: some ScalarConvertible) {
    check("add(_:scaledBy:)", ct_add_scaled_(handle, other.handle, alpha.scalar.c))
  }

  /// `self *= factor`.
  public func multiply(by factor: some ScalarConvertible) { inPlace(.mul, factor.scalar) }

  /// `self *= other`.
  public func multiply(by other: Tensor) { inPlace(.mul, other) }

  /// `self += value * a * b`.
  public func addProduct(_ a: Tensor, _ b: Tensor, scaledBy value: some ScalarConvertible) {
    check("addProduct", ct_addcmul_(handle, a.handle, b.handle, value.scalar.c))
  }

  /// `self += value * a / b`.
  public func addQuotient(_ a: Tensor, _ b: Tensor, scaledBy value: some ScalarConvertible) {
    check("addQuotient", ct_addcdiv_(handle, a.handle, b.handle, value.scalar.c))
  }

  /// `self += weight * (end - self)`.
  public func moveTowards(_ end: Tensor, weight: some ScalarConvertible) {
    check("moveTowards", ct_lerp_(handle, end.handle, weight.scalar.c))
  }

  /// Limits every element to `min...max` in place.
  public func clamp(min: (some ScalarConvertible)? = Double?.none, max: (some ScalarConvertible)? = Double?.none) {
    let lo = min?.scalar ?? .float(0)
    let hi = max?.scalar ?? .float(0)
    check("clamp", ct_clamp_(handle, min == nil ? 0 : 1, lo.c, max == nil ? 0 : 1, hi.c))
  }

  /// Sets the elements where `mask` is true to `value`.
  public func fill(where mask: Tensor, with value: some ScalarConvertible) {
    check("fill(where:with:)", ct_masked_fill_(handle, mask.handle, value.scalar.c))
  }

  /// Applies an element-wise function in place (`relu`, `sigmoid`, `sqrt`, ...).
  public func apply(_ function: UnaryFunction) {
    check("apply(\(function))", ct_unary_(function.rawValue, handle))
  }
}
