import Torch

/// Rescales the gradients of `parameters` in place so their joint norm is at most `maxNorm`
/// (PyTorch's `clip_grad_norm_`). Returns the norm before clipping, as a 0-d tensor; reading it
/// is the caller's choice, so clipping itself never waits on the device.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double, normType: Double = 2) -> Tensor {
  let grads = parameters.compactMap(\.grad)
  guard !grads.isEmpty else { return Tensor(scalar: Float(0)) }
  return withNoGrad {
    let norms = Tensor.stack(grads.map { $0.norm(normType) })
    let total = normType.isInfinite ? norms.max() : norms.norm(normType)
    let coefficient = (maxNorm / (total + 1e-6)).clamped(max: 1.0)
    for g in grads { g.multiply(by: coefficient.to(g.dtype)) }
    return total
  }
}
