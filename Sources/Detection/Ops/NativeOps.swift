internal import CTorch
import Torch

// The detection kernels that libtorch lacks, implemented natively in the C shim.

/// Indices of the boxes kept by greedy non-maximum suppression, highest score first.
/// - Parameters:
///   - boxes: `[N, 4]` as `x1, y1, x2, y2`.
///   - scores: `[N]`.
///   - iouThreshold: boxes overlapping a kept box by more than this are dropped.
public func nonMaximumSuppression(boxes: Tensor, scores: Tensor, iouThreshold: Double) -> Tensor {
  boxes.withHandle { b in
    scores.withHandle { s in
      Tensor.wrapping(operation: "nonMaximumSuppression") { ct_nms(b, s, iouThreshold, $0) }
    }
  }
}

/// NMS applied separately within each group (class, usually): boxes of different groups never
/// suppress each other. Shifts each group's boxes to a disjoint region and runs NMS once, which
/// gives the same result as per-group NMS.
public func batchedNonMaximumSuppression(
  boxes: Tensor, scores: Tensor, groups: Tensor, iouThreshold: Double
) -> Tensor {
  guard boxes.shape[0] > 0 else { return Tensor.zeros([0], dtype: .int64, device: boxes.device) }
  let maxCoordinate = boxes.max()
  let offsets = groups.to(boxes.dtype) * (maxCoordinate + 1)
  let shifted = boxes + offsets.unsqueezed(axis: 1)
  return nonMaximumSuppression(boxes: shifted, scores: scores, iouThreshold: iouThreshold)
}

/// RoIAlign (Mask R-CNN): bilinear samples of each region of `features`, averaged into an
/// `outputSize` grid. Differentiable with respect to `features`.
/// - Parameters:
///   - features: `[N, C, H, W]`.
///   - rois: `[K, 5]` rows of (image index in the batch, x1, y1, x2, y2) in input-image pixels.
///   - spatialScale: feature-map size over input size (1/4 for a stride-4 level).
///   - samplingRatio: sample points per bin side; 0 chooses `ceil(roi size / output size)`.
///   - aligned: sample at pixel centres (torchvision's `aligned=True`); `false` is the legacy
///     convention of the original Detectron that torchvision's pretrained detectors use.
public func roiAlign(
  _ features: Tensor, rois: Tensor, outputSize: (Int, Int), spatialScale: Double, samplingRatio: Int,
  aligned: Bool
) -> Tensor {
  features.withHandle { f in
    rois.withHandle { r in
      Tensor.wrapping(operation: "roiAlign") {
        ct_roi_align(
          f, r, Int64(outputSize.0), Int64(outputSize.1), spatialScale, Int64(samplingRatio), aligned ? 1 : 0, $0)
      }
    }
  }
}
