import Testing
@testable import Detection
@testable import Torch

/// The textbook greedy NMS, one box at a time: the reference the native kernel must equal.
func referenceNMS(_ boxes: [[Double]], _ scores: [Double], _ threshold: Double) -> [Int] {
  func iou(_ a: [Double], _ b: [Double]) -> Double {
    let w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    let h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    let inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
  }
  let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
  var keep: [Int] = []
  for i in order where keep.allSatisfy({ iou(boxes[$0], boxes[i]) <= threshold }) {
    keep.append(i)
  }
  return keep
}

func randomBoxes(_ n: Int, seed: UInt64, extent: Double = 100) -> (Tensor, [[Double]]) {
  let g = Generator(seed: seed)
  let corner = Tensor.rand([n, 2], dtype: .float64, generator: g) * extent
  let size = Tensor.rand([n, 2], dtype: .float64, generator: g) * (extent / 4) + 1
  let boxes = Tensor.concatenate([corner, corner + size], axis: 1)
  let flat = boxes.toArray(Double.self)
  return (boxes, (0..<n).map { Array(flat[($0 * 4)..<($0 * 4 + 4)]) })
}

@Suite struct NMSTests {
  @Test(arguments: [0.3, 0.5, 0.7])
  func matchesGreedyReference(threshold: Double) {
    let (boxes, rows) = randomBoxes(300, seed: 11)
    let scores = Tensor.rand([300], dtype: .float64, generator: Generator(seed: 12))
    let keep = nonMaximumSuppression(boxes: boxes, scores: scores, iouThreshold: threshold)
    #expect(keep.toArray(Int.self) == referenceNMS(rows, scores.toArray(Double.self), threshold))
  }

  @Test func float32BoxesAndEmptyInput() {
    let boxes = Tensor([0, 0, 10, 10, 1, 1, 11, 11, 50, 50, 60, 60] as [Float], shape: [3, 4])
    let scores = Tensor([0.9, 0.8, 0.7] as [Float])
    #expect(nonMaximumSuppression(boxes: boxes, scores: scores, iouThreshold: 0.5).toArray(Int.self) == [0, 2])
    let none = nonMaximumSuppression(boxes: Tensor.zeros([0, 4]), scores: Tensor.zeros([0]), iouThreshold: 0.5)
    #expect(none.shape == [0])
  }

  @Test func batchedNMSKeepsOverlapsOfDifferentClasses() {
    let boxes = Tensor([0, 0, 10, 10, 1, 1, 11, 11, 0, 0, 10, 10] as [Float], shape: [3, 4])
    let scores = Tensor([0.9, 0.8, 0.7] as [Float])
    let classes = Tensor([0, 0, 1] as [Int])
    let keep = batchedNonMaximumSuppression(boxes: boxes, scores: scores, groups: classes, iouThreshold: 0.5)
    #expect(keep.toArray(Int.self) == [0, 2])
  }

  @Test func badShapesAreReportedWithTheOperation() {
    let error = #expect(throws: TorchError.self) {
      try withTorchErrors { _ = nonMaximumSuppression(boxes: Tensor.zeros([3, 5]), scores: Tensor.zeros([3]), iouThreshold: 0.5) }
    }
    #expect(error?.operation == "nonMaximumSuppression")
    #expect(error?.message.contains("[N, 4]") == true)
  }
}
