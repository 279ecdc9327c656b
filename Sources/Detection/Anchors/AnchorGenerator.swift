import Foundation
import Torch

/// Anchors for every location of every pyramid level: at each level, one set of boxes of the
/// given sizes and aspect ratios centred on each cell (torchvision's `AnchorGenerator`).
///
/// The anchors of a level depend only on the feature size and stride, so they are cached per
/// (level, feature size, stride, device, dtype) and reused across iterations.
public final class AnchorGenerator {
  /// Anchor sizes (square roots of the areas) for each level.
  public let sizes: [[Double]]
  /// Height-over-width ratios for each level.
  public let aspectRatios: [[Double]]
  /// Whether the template boxes are rounded to whole pixels (torchvision, detectron2) or kept
  /// exact (mmdetection's `AnchorGenerator`, whose RetinaNet sizes 4·stride·2^(k/3) are then
  /// 32, 40.3, 50.8 rather than 32, 40, 51).
  public let roundsBaseAnchors: Bool
  /// Each level's stride in input pixels; empty to take it from the feature size as
  /// torchvision does (padded input size ÷ feature size, rounded down: 800 rows over a 13-row
  /// P6 give 61), where mmdetection and detectron2 use the nominal strides (64).
  public let strides: [Int]
  private var cache: [String: Tensor] = [:]
  private let cacheLimit = 64

  public init(sizes: [[Double]], aspectRatios: [[Double]], roundsBaseAnchors: Bool = true, strides: [Int] = []) {
    precondition(sizes.count == aspectRatios.count, "AnchorGenerator needs one aspect-ratio list per level")
    precondition(strides.isEmpty || strides.count == sizes.count, "AnchorGenerator needs one stride per level, or none")
    self.strides = strides
    self.sizes = sizes
    self.aspectRatios = aspectRatios
    self.roundsBaseAnchors = roundsBaseAnchors
  }

  /// Anchors per location at each level.
  public var anchorsPerLocation: [Int] { zip(sizes, aspectRatios).map { $0.count * $1.count } }

  /// The zero-centred template boxes of one level, rounded to whole pixels as torchvision does
  /// unless `roundsBaseAnchors` is false.
  func cellAnchors(level: Int, dtype: DType, device: Device) -> Tensor {
    let scales = Tensor(sizes[level], device: device).to(dtype)
    let ratios = Tensor(aspectRatios[level], device: device).to(dtype)
    let hRatios = ratios.sqrt()
    let wRatios = 1 / hRatios
    let ws = (wRatios.unsqueezed(axis: 1) * scales.unsqueezed(axis: 0)).reshaped([-1])
    let hs = (hRatios.unsqueezed(axis: 1) * scales.unsqueezed(axis: 0)).reshaped([-1])
    let base = Tensor.stack([-ws, -hs, ws, hs], axis: 1) / 2
    return roundsBaseAnchors ? base.rounded() : base
  }

  /// Anchors `[H·W·A, 4]` of one level: for each cell in row-major order, its A anchors.
  public func anchors(level: Int, featureSize: (Int, Int), stride: (Int, Int), dtype: DType = .float32, device: Device = .cpu)
    -> Tensor
  {
    let key = "\(level):\(featureSize.0)x\(featureSize.1):\(stride.0)x\(stride.1):\(dtype):\(device)"
    if let cached = cache[key] { return cached }
    let base = cellAnchors(level: level, dtype: dtype, device: device)
    let shiftsX = Tensor.arange(0, featureSize.1, dtype: .int32, device: device).to(dtype) * stride.1
    let shiftsY = Tensor.arange(0, featureSize.0, dtype: .int32, device: device).to(dtype) * stride.0
    let grid = Tensor.meshgrid([shiftsY, shiftsX])
    let sy = grid[0].reshaped([-1])
    let sx = grid[1].reshaped([-1])
    let shifts = Tensor.stack([sx, sy, sx, sy], axis: 1)
    let anchors = (shifts.reshaped([-1, 1, 4]) + base.reshaped([1, -1, 4])).reshaped([-1, 4])
    if cache.count >= cacheLimit { cache.removeAll() }
    cache[key] = anchors
    return anchors
  }

  /// Anchors of all levels concatenated, for an input of `imageSize` (the padded batch size)
  /// and features of the given sizes; the stride of a level is `strides[level]`, or without
  /// `strides` the integer ratio of the sizes.
  public func anchors(imageSize: (Int, Int), featureSizes: [(Int, Int)], dtype: DType = .float32, device: Device = .cpu)
    -> [Tensor]
  {
    precondition(featureSizes.count == sizes.count, "AnchorGenerator has \(sizes.count) levels, got \(featureSizes.count) feature maps")
    return featureSizes.enumerated().map { level, size in
      let stride = strides.isEmpty ? (imageSize.0 / size.0, imageSize.1 / size.1) : (strides[level], strides[level])
      return anchors(level: level, featureSize: size, stride: stride, dtype: dtype, device: device)
    }
  }
}
