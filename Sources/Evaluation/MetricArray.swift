/// A dense multi-dimensional array of metric values in C (row-major) order, the layout of
/// pycocotools' numpy arrays, so that indices carry over: `precision[t, r, k, a, m]`.
public struct MetricArray: Hashable, Sendable {
  public let shape: [Int]
  public internal(set) var values: [Double]

  init(shape: [Int], repeating value: Double) {
    self.shape = shape
    self.values = [Double](repeating: value, count: shape.reduce(1, *))
  }

  func offset(_ indices: [Int]) -> Int {
    precondition(indices.count == shape.count, "expected \(shape.count) indices, got \(indices.count)")
    var offset = 0
    for (index, size) in zip(indices, shape) {
      precondition(index >= 0 && index < size, "index \(index) is outside 0..<\(size)")
      offset = offset * size + index
    }
    return offset
  }

  public subscript(_ indices: Int...) -> Double {
    values[offset(indices)]
  }
}
