/// Overlaps between detections (rows) and ground truths (columns), as pycocotools' `iou` returns.
public struct IoUMatrix: Hashable, Sendable {
  public let detectionCount: Int
  public let groundTruthCount: Int
  /// Row-major: `values[d * groundTruthCount + g]`.
  public var values: [Double]

  public init(detectionCount: Int, groundTruthCount: Int, values: [Double]) {
    precondition(values.count == detectionCount * groundTruthCount, "IoU matrix has the wrong number of values")
    self.detectionCount = detectionCount
    self.groundTruthCount = groundTruthCount
    self.values = values
  }

  public subscript(detection: Int, groundTruth: Int) -> Double {
    values[detection * groundTruthCount + groundTruth]
  }
}

/// Pairwise overlap for boxes and masks with COCO's crowd rule: against a crowd region the
/// overlap is the intersection over the *detection's* area, so a detection inside a crowd is not
/// punished for the rest of the crowd.
public enum Overlap {
  /// Box IoU; `isCrowd[g]` marks crowd ground truths.
  public static func iou(detections: [BoundingBox], groundTruths: [BoundingBox], isCrowd: [Bool]) -> IoUMatrix {
    precondition(isCrowd.count == groundTruths.count, "isCrowd must have one flag per ground truth")
    var values = [Double](repeating: 0, count: detections.count * groundTruths.count)
    values.withUnsafeMutableBufferPointer { out in
      detections.withUnsafeBufferPointer { dts in
        groundTruths.withUnsafeBufferPointer { gts in
          isCrowd.withUnsafeBufferPointer { crowd in
            boxIoU(detections: dts, groundTruths: gts, isCrowd: crowd, into: out)
          }
        }
      }
    }
    return IoUMatrix(detectionCount: detections.count, groundTruthCount: groundTruths.count, values: values)
  }

  /// Mask IoU. Pairs whose masks differ in size get -1, as in pycocotools.
  public static func iou(detections: [RLE], groundTruths: [RLE], isCrowd: [Bool]) -> IoUMatrix {
    precondition(isCrowd.count == groundTruths.count, "isCrowd must have one flag per ground truth")
    var values = [Double](repeating: 0, count: detections.count * groundTruths.count)
    let detectionBoxes = detections.map(\.boundingBox)
    let groundTruthBoxes = groundTruths.map(\.boundingBox)
    values.withUnsafeMutableBufferPointer { out in
      detectionBoxes.withUnsafeBufferPointer { dts in
        groundTruthBoxes.withUnsafeBufferPointer { gts in
          isCrowd.withUnsafeBufferPointer { crowd in
            boxIoU(detections: dts, groundTruths: gts, isCrowd: crowd, into: out)
          }
        }
      }
      let columns = groundTruths.count
      for d in detections.indices {
        for g in groundTruths.indices where out[d * columns + g] > 0 {
          out[d * columns + g] = maskIoU(detections[d], groundTruths[g], isCrowd: isCrowd[g])
        }
      }
    }
    return IoUMatrix(detectionCount: detections.count, groundTruthCount: groundTruths.count, values: values)
  }

  /// The box kernel behind both functions, on raw buffers so that evaluation can call it per
  /// image and category without building arrays.
  @inlinable
  public static func boxIoU(
    detections: UnsafeBufferPointer<BoundingBox>, groundTruths: UnsafeBufferPointer<BoundingBox>,
    isCrowd: UnsafeBufferPointer<Bool>, into out: UnsafeMutableBufferPointer<Double>
  ) {
    let columns = groundTruths.count
    for g in 0..<columns {
      let gt = groundTruths[g]
      let gtArea = gt.width * gt.height
      let crowd = isCrowd[g]
      for d in 0..<detections.count {
        let dt = detections[d]
        let dtArea = dt.width * dt.height
        out[d * columns + g] = 0
        // The operation order follows pycocotools so that overlaps on a threshold compare alike.
        let w = Swift.min(dt.width + dt.x, gt.width + gt.x) - Swift.max(dt.x, gt.x)
        if w <= 0 { continue }
        let h = Swift.min(dt.height + dt.y, gt.height + gt.y) - Swift.max(dt.y, gt.y)
        if h <= 0 { continue }
        let intersection = w * h
        let union = crowd ? dtArea : dtArea + gtArea - intersection
        out[d * columns + g] = intersection / union
      }
    }
  }

  /// Exact mask IoU of one pair by walking both run lists, with the crowd rule.
  public static func maskIoU(_ detection: RLE, _ groundTruth: RLE, isCrowd: Bool) -> Double {
    if detection.height != groundTruth.height || detection.width != groundTruth.width { return -1 }
    var intersection: UInt32 = 0, union: UInt32 = 0
    forEachJointRun(detection.counts, groundTruth.counts) { step, inA, inB in
      if inA || inB {
        union &+= step
        if inA && inB { intersection &+= step }
      }
    }
    if intersection == 0 { return 0 }
    let denominator = isCrowd ? UInt32(truncatingIfNeeded: detection.area) : union
    return Double(intersection) / Double(denominator)
  }
}
