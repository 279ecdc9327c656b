import Foundation
import Torch

/// RoIAlign over a feature pyramid: each box is pooled from the level its scale maps to
/// (torchvision's `MultiScaleRoIAlign`, with its legacy `aligned=False` sampling).
public struct MultiScaleRoIAlign: Sendable {
  public var outputSize: (Int, Int)
  public var samplingRatio: Int
  public var aligned: Bool
  public var canonicalScale: Double
  public var canonicalLevel: Int

  public init(outputSize: (Int, Int), samplingRatio: Int = 2, aligned: Bool = false, canonicalScale: Double = 224, canonicalLevel: Int = 4) {
    self.outputSize = outputSize
    self.samplingRatio = samplingRatio
    self.aligned = aligned
    self.canonicalScale = canonicalScale
    self.canonicalLevel = canonicalLevel
  }

  /// Pooled features `[Σ boxes, C, outH, outW]` for per-image boxes, pooled from `features`
  /// (the finest levels of the pyramid whose strides are powers of two).
  public func callAsFunction(_ features: [Tensor], boxes: [Tensor], images: ImageBatch) -> Tensor {
    // Each level's scale relative to the tallest image, rounded to a power of two in float32
    // as torchvision infers it (from the heights alone).
    let maxH = Double(images.imageSizes.map(\.height).max()!)
    let scales = features.map { f -> Double in
      let approx = Float(Double(f.shape[2]) / maxH)
      return Double(Foundation.pow(Float(2), Foundation.log2(approx).rounded(.toNearestOrEven)))
    }
    let rois = Tensor.concatenate(
      boxes.enumerated().map { i, b in
        Tensor.concatenate([Tensor.full([b.shape[0], 1], value: i, dtype: b.dtype, device: b.device), b], axis: 1)
      }, axis: 0)
    if features.count == 1 {
      return roiAlign(features[0], rois: rois, outputSize: outputSize, spatialScale: scales[0], samplingRatio: samplingRatio, aligned: aligned)
    }
    let minLevel = Int(-Foundation.log2(scales[0]).rounded())
    let maxLevel = Int(-Foundation.log2(scales[scales.count - 1]).rounded())
    let mapper = LevelMapper(minLevel: minLevel, maxLevel: maxLevel, canonicalScale: canonicalScale, canonicalLevel: canonicalLevel)
    let levels = mapper.levels(for: Boxes(rois[.all, 1...]))
    let channels = features[0].shape[1]
    let result = Tensor.zeros([rois.shape[0], channels, outputSize.0, outputSize.1], dtype: features[0].dtype, device: features[0].device)
    for (level, feature) in features.enumerated() {
      let index = (levels .== level).nonzeroIndices().reshaped([-1])
      guard index.shape[0] > 0 else { continue }
      let pooled = roiAlign(
        feature, rois: rois.gathering(index), outputSize: outputSize, spatialScale: scales[level],
        samplingRatio: samplingRatio, aligned: aligned)
      result.put(pooled, at: index)
    }
    return result
  }
}
