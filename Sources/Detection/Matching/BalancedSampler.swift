import Torch

/// Draws a fixed-size batch of positives and negatives per image for loss computation, with at
/// most `positiveFraction` positives (torchvision's `BalancedPositiveNegativeSampler`). The draw
/// uses the sampler's own generator, so training is reproducible for a seed.
public final class BalancedSampler {
  public let batchSizePerImage: Int
  public let positiveFraction: Double
  let generator: Generator

  public init(batchSizePerImage: Int, positiveFraction: Double, generator: Generator) {
    self.batchSizePerImage = batchSizePerImage
    self.positiveFraction = positiveFraction
    self.generator = generator
  }

  /// For labels of one image (`>= 1` positive, `0` negative, `-1` ignored), bool masks of the
  /// sampled positives and negatives.
  public func callAsFunction(_ labels: Tensor) -> (positive: Tensor, negative: Tensor) {
    let positives = (labels .>= 1).nonzeroIndices().reshaped([-1])
    let negatives = (labels .== 0).nonzeroIndices().reshaped([-1])
    let positiveCount = min(Int(Double(batchSizePerImage) * positiveFraction), positives.shape[0])
    let negativeCount = min(batchSizePerImage - positiveCount, negatives.shape[0])
    let pickedPositives = positives.gathering(
      Tensor.randperm(positives.shape[0], device: labels.device, generator: generator)[..<positiveCount])
    let pickedNegatives = negatives.gathering(
      Tensor.randperm(negatives.shape[0], device: labels.device, generator: generator)[..<negativeCount])
    let count = labels.shape[0]
    let positiveMask = Tensor.zeros([count], dtype: .bool, device: labels.device)
    let negativeMask = Tensor.zeros([count], dtype: .bool, device: labels.device)
    positiveMask.put(Tensor(scalar: true), at: pickedPositives)
    negativeMask.put(Tensor(scalar: true), at: pickedNegatives)
    return (positiveMask, negativeMask)
  }
}
