import Torch

/// Stochastic depth (Huang et al. 2016) in torchvision's `row` mode: in training, each image's
/// residual branch is dropped with probability `probability` and the kept ones are scaled by
/// `1 / (1 − probability)`, so the expected output is unchanged and evaluation needs no rescaling.
func stochasticDepth(_ residual: Tensor, probability: Double, training: Bool, generator: Generator?) -> Tensor {
  guard training, probability > 0 else { return residual }
  let survival = 1 - probability
  guard survival > 0 else { return residual * 0 }
  let shape = [residual.shape[0]] + Array(repeating: 1, count: residual.shape.count - 1)
  let keep = Tensor.bernoulli(shape, probability: survival, dtype: residual.dtype, device: residual.device, generator: generator)
  return residual * (keep / survival)
}
