import Torch

/// The candidates of one pyramid level of a dense detector: torchvision's per-level step of
/// `postprocess_detections` (RetinaNet, FCOS). `scores` `[A, C]` are per-location class
/// probabilities; those above `threshold` are ranked and the best `limit` kept. Returns their
/// scores, location (anchor) indices and class indices, best first.
func topCandidates(scores: Tensor, threshold: Double, limit: Int) -> (scores: Tensor, locations: Tensor, labels: Tensor) {
  let classes = scores.shape[1]
  let flat = scores.reshaped([-1])
  let aboveThreshold = (flat .> threshold).nonzeroIndices().reshaped([-1])
  let k = Swift.min(limit, aboveThreshold.shape[0])
  let (best, order) = flat.gathering(aboveThreshold).topK(k, axis: 0)
  let picked = aboveThreshold.gathering(order)
  return (best, picked.floorDivided(by: classes), picked % classes)
}

/// One image's detections from the candidates of all levels: NMS within each class (`method`,
/// or greedy NMS at `nmsThreshold`), then the `limit` best (torchvision's end of
/// `postprocess_detections`).
func mergeDetections(
  boxes: [Tensor], scores: [Tensor], labels: [Tensor], nmsThreshold: Double, method: NMSMethod?, limit: Int
) -> (boxes: Tensor, scores: Tensor, labels: Tensor) {
  let allBoxes = Tensor.concatenate(boxes, axis: 0)
  let allScores = Tensor.concatenate(scores, axis: 0)
  let allLabels = Tensor.concatenate(labels, axis: 0)
  // torchvision switches from the coordinate-offset trick to per-class NMS above 4,000 box
  // coordinates on the CPU (1,000 boxes) and 100,000 on a GPU; the offset rounds coordinates,
  // so following the same switch keeps detections equal to torchvision's.
  let trickLimit = allBoxes.device == .cpu ? 1000 : 25000
  let reduced = (method ?? .standard(iouThreshold: nmsThreshold)).apply(
    boxes: allBoxes, scores: allScores, groups: allLabels, offsetTrickLimit: trickLimit)
  let top = Swift.min(limit, reduced.indices.shape[0])
  return (reduced.boxes[..<top], reduced.scores[..<top], allLabels.gathering(reduced.indices[..<top]))
}

/// One image's detections from a dense head, in its resized pixels, best first.
public typealias DenseDetections = (boxes: Tensor, scores: Tensor, labels: Tensor)

/// An image's empty detections, of `tensor`'s precision and device.
func noDetections(like tensor: Tensor) -> DenseDetections {
  (
    Tensor.zeros([0, 4], dtype: tensor.dtype, device: tensor.device),
    Tensor.zeros([0], dtype: tensor.dtype, device: tensor.device),
    Tensor.zeros([0], dtype: .int64, device: tensor.device)
  )
}
