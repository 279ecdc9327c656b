/// Hooks for modules that bind native kernels of their own (the detection ops, say) through the
/// C shim. Handle use stays inside these closures, so the tensor is alive for the whole call.
extension Tensor {
  /// Runs `body` with the libtorch handle while `self` is guaranteed alive. The handle must not
  /// escape `body`.
  public func withHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
    try withExtendedLifetime(self) { try body(handle) }
  }

  /// Wraps the `ct_tensor` a shim function writes into its out-parameter; a non-zero status is
  /// reported like any failed tensor operation (trap, or recorded inside `withTorchErrors`).
  public static func wrapping(
    operation: @autoclosure () -> String, _ body: (UnsafeMutablePointer<OpaquePointer?>) -> Int32
  ) -> Tensor {
    make(operation(), body)
  }

  /// `wrapping` for shim functions with two out-parameters.
  public static func wrappingPair(
    operation: @autoclosure () -> String,
    _ body: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<OpaquePointer?>) -> Int32
  ) -> (Tensor, Tensor) {
    makePair(operation(), body)
  }
}
