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

  /// Offsets for the two layouts evaluation fills, without building an index array per element.
  @inline(__always)
  func offset(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> Int {
    ((i0 * shape[1] + i1) * shape[2] + i2) * shape[3] + i3
  }

  @inline(__always)
  func offset(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ i4: Int) -> Int {
    (((i0 * shape[1] + i1) * shape[2] + i2) * shape[3] + i3) * shape[4] + i4
  }

  public subscript(_ indices: Int...) -> Double {
    values[offset(indices)]
  }
}
