import CTorch

extension Tensor {
  /// Whether operations on this tensor are recorded for differentiation.
  public var requiresGrad: Bool {
    get {
      var out: Int32 = 0
      check("requiresGrad", ct_requires_grad(handle, &out))
      return out != 0
    }
    set { check("requiresGrad", ct_set_requires_grad(handle, newValue ? 1 : 0)) }
  }

  /// Marks the tensor as requiring gradients and returns it, for use in expressions.
  @discardableResult
  public func requiringGrad(_ flag: Bool = true) -> Tensor {
    requiresGrad = flag
    return self
  }

  /// Whether the tensor was created by the user rather than computed by a recorded operation.
  public var isLeaf: Bool {
    var out: Int32 = 0
    check("isLeaf", ct_is_leaf(handle, &out))
    return out != 0
  }

  /// The gradient accumulated by `backward()`, or nil when none has been computed.
  public var grad: Tensor? {
    get {
      var out: OpaquePointer?
      guard check("grad", ct_grad(handle, &out)), let out else { return nil }
      return Tensor(handle: out)
    }
    set {
      check("grad", ct_set_grad(handle, newValue?.handle))
    }
  }

  /// Forgets the accumulated gradient (as PyTorch's `zero_grad(set_to_none=True)`).
  public func zeroGradient() {
    check("zeroGradient", ct_set_grad(handle, nil))
  }

  /// Computes gradients of this tensor with respect to every leaf that requires them.
  /// A non-scalar tensor needs `gradient`, the gradient of the final result with respect to it.
  public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) {
    if let gradient {
      check("backward", ct_backward(handle, gradient.handle, retainGraph ? 1 : 0))
    } else {
      check("backward", ct_backward(handle, nil, retainGraph ? 1 : 0))
    }
  }
}

/// Gradients of `outputs` with respect to `inputs`, without touching the inputs' `.grad`.
/// An entry is nil where an input does not influence the outputs.
public func gradients(
  of outputs: [Tensor], withRespectTo inputs: [Tensor], retainGraph: Bool = false, createGraph: Bool = false
) -> [Tensor?] {
  var results = [OpaquePointer?](repeating: nil, count: inputs.count)
  let ok = withExtendedLifetime((outputs, inputs)) {
    let outHandles: [OpaquePointer?] = outputs.map { $0.handle }
    let inHandles: [OpaquePointer?] = inputs.map { $0.handle }
    return check(
      "gradients",
      ct_autograd_grad(
        outHandles, Int64(outHandles.count), inHandles, Int64(inHandles.count), retainGraph ? 1 : 0,
        createGraph ? 1 : 0, &results))
  }
  guard ok else { return inputs.map { _ in nil } }
  return results.map { $0.map(Tensor.init(handle:)) }
}

/// Whether libtorch records operations for autograd on this thread.
public var isGradEnabled: Bool { ct_grad_enabled() != 0 }

/// Runs `body` with autograd recording turned off on this thread (inference, optimizer updates).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
  try withGradEnabled(false, body)
}

/// Runs `body` with CPU autocast (PyTorch's `torch.autocast("cpu", dtype)`) on this thread:
/// convolutions, linear layers and matrix products compute in `dtype` (bfloat16 by default, fast
/// on CPUs with AVX-512 BF16 or AMX), while reductions, losses and softmax stay in float32.
/// Parameters stay float32, so training keeps full-precision weights.
public func withAutocast<R>(_ dtype: DType = .bfloat16, _ body: () throws -> R) rethrows -> R {
  var previousEnabled: Int32 = 0
  var previousType: Int32 = 0
  _ = check("withAutocast", ct_autocast_enter(dtype.rawValue, &previousEnabled, &previousType))
  defer { _ = check("withAutocast", ct_autocast_exit(previousEnabled, previousType)) }
  return try body()
}

/// Runs `body` with autocast off on this thread and restores it afterwards (a nested
/// `torch.autocast("cpu", enabled=False)`): for small layers whose float32 precision is worth
/// more than their cost. Tensors autocast left in bfloat16 must be converted by the caller.
public func withoutAutocast<R>(_ body: () throws -> R) rethrows -> R {
  let previous = ct_autocast_set_enabled(0)
  defer { _ = ct_autocast_set_enabled(previous) }
  return try body()
}

/// Whether autocast is on for this thread.
public var isAutocastEnabled: Bool { ct_autocast_enabled() != 0 }

/// Runs `body` with autograd recording set to `enabled` on this thread, restoring it afterwards.
public func withGradEnabled<R>(_ enabled: Bool, _ body: () throws -> R) rethrows -> R {
  let previous = ct_grad_enabled()
  ct_set_grad_enabled(enabled ? 1 : 0)
  defer { ct_set_grad_enabled(previous) }
  return try body()
}
