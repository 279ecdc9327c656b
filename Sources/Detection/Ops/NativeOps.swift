internal import CTorch
import Torch

// The detection kernels that libtorch lacks, implemented natively in the C shim.

/// Indices of the boxes kept by greedy non-maximum suppression, highest score first.
/// - Parameters:
///   - boxes: `[N, 4]` as `x1, y1, x2, y2`.
///   - scores: `[N]`.
///   - iouThreshold: boxes overlapping a kept box by more than this are dropped.
public func nonMaximumSuppression(boxes: Tensor, scores: Tensor, iouThreshold: Double) -> Tensor {
  let boxes = fullPrecision(boxes)
  let scores = fullPrecision(scores)
  return OperationTimer.shared.measure("nms") {
    boxes.withHandle { b in
      scores.withHandle { s in
        Tensor.wrapping(operation: "nonMaximumSuppression") { ct_nms(b, s, iouThreshold, $0) }
      }
    }
  }
}

/// NMS applied separately within each group (class, usually): boxes of different groups never
/// suppress each other. Returns kept indices by decreasing score.
///
/// Up to `offsetTrickLimit` boxes, each group's boxes are shifted to a disjoint region and NMS
/// runs once; above it, NMS runs per group natively. torchvision makes the same choice at 4,000
/// box coordinates on the CPU (1,000 boxes), and since the shift rounds float32 coordinates
/// slightly, matching it keeps our detections equal to torchvision's.
public func batchedNonMaximumSuppression(
  boxes: Tensor, scores: Tensor, groups: Tensor, iouThreshold: Double, offsetTrickLimit: Int = 1000
) -> Tensor {
  let boxes = fullPrecision(boxes)
  let scores = fullPrecision(scores)
  let count = boxes.shape[0]
  guard count > 0 else { return Tensor.zeros([0], dtype: .int64, device: boxes.device) }
  if count > offsetTrickLimit {
    return OperationTimer.shared.measure("nms") {
      boxes.withHandle { b in
        scores.withHandle { s in
          groups.withHandle { g in
            Tensor.wrapping(operation: "batchedNonMaximumSuppression") { ct_batched_nms(b, s, g, iouThreshold, $0) }
          }
        }
      }
    }
  }
  let maxCoordinate = boxes.max()
  let offsets = groups.to(boxes.dtype) * (maxCoordinate + 1)
  let shifted = boxes + offsets.unsqueezed(axis: 1)
  return nonMaximumSuppression(boxes: shifted, scores: scores, iouThreshold: iouThreshold)
}

/// RoIAlign (Mask R-CNN): bilinear samples of each region of `features`, averaged into an
/// `outputSize` grid. Differentiable with respect to `features`.
/// - Parameters:
///   - features: `[N, C, H, W]`, NCHW or channels-last in memory (channels-last, what the
///     backbones produce, is read as it is and gets a channels-last gradient).
///   - rois: `[K, 5]` rows of (image index in the batch, x1, y1, x2, y2) in input-image pixels.
///   - spatialScale: feature-map size over input size (1/4 for a stride-4 level).
///   - samplingRatio: sample points per bin side; 0 chooses `ceil(roi size / output size)`.
///   - aligned: sample at pixel centres (torchvision's `aligned=True`); `false` is the legacy
///     convention of the original Detectron that torchvision's pretrained detectors use.
public func roiAlign(
  _ features: Tensor, rois: Tensor, outputSize: (Int, Int), spatialScale: Double, samplingRatio: Int,
  aligned: Bool
) -> Tensor {
  OperationTimer.shared.measure("roi_align") {
    features.withHandle { f in
      rois.withHandle { r in
        Tensor.wrapping(operation: "roiAlign") {
          ct_roi_align(
            f, r, Int64(outputSize.0), Int64(outputSize.1), spatialScale, Int64(samplingRatio), aligned ? 1 : 0, $0)
        }
      }
    }
  }
}
