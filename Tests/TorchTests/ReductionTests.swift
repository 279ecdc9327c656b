import Foundation
import Testing

@testable import Torch

@Suite struct ReductionTests {
  /// [[1, 2, 3], [4, 5, 6]]
  let m = Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3])

  @Test func sumAndMean() {
    expectValues(m.sum(), [21], shape: [])
    expectValues(m.sum(axis: 0), [5, 7, 9], shape: [3])
    expectValues(m.sum(axis: 1), [6, 15], shape: [2])
    expectValues(m.sum(axis: -1, keepingDimensions: true), [6, 15], shape: [2, 1])
    expectValues(m.sum(axes: [0, 1]), [21], shape: [])
    expectValues(m.sum(axes: nil, keepingDimensions: true), [21], shape: [1, 1])
    expectValues(m.mean(), [3.5], shape: [])
    expectValues(m.mean(axis: 0), [2.5, 3.5, 4.5])
    expectValues(m.mean(axes: [1], keepingDimensions: true), [2, 5], shape: [2, 1])
    // Integer sums stay integral; bool sums count.
    let i = Tensor([1, 2, 3] as [Int32])
    #expect(i.sum().dtype == .int64)
    #expect(i.sum().intValue() == 6)
    #expect(Tensor([true, true, false]).sum().intValue() == 2)
  }

  @Test func product() {
    expectValues(m.product(), [720], shape: [])
    expectValues(m.product(axes: [0]), [4, 10, 18])
    expectValues(m.product(axes: [1], keepingDimensions: true), [6, 120], shape: [2, 1])
    let cube = Tensor.arange(1, 9, dtype: .float64).reshaped([2, 2, 2])
    expectValues(cube.product(axes: [0, 2]), [1 * 2 * 5 * 6, 3 * 4 * 7 * 8], shape: [2])
    expectValues(cube.product(axes: [-1, 0], keepingDimensions: true), [60, 672], shape: [1, 2, 1])
  }

  @Test func maxAndMin() {
    let x = Tensor([3, 9, 1, 7, 5, 2] as [Float], shape: [2, 3])
    expectValues(x.max(), [9], shape: [])
    expectValues(x.min(), [1], shape: [])
    expectValues(x.max(axes: [0]), [7, 9, 2])
    expectValues(x.min(axes: [1], keepingDimensions: true), [1, 2], shape: [2, 1])
    let (values, indices) = x.max(axis: 1)
    expectValues(values, [9, 7])
    #expect(indices.toArray(Int.self) == [1, 0])
    let low = x.min(axis: 0, keepingDimensions: true)
    expectValues(low.values, [3, 5, 1], shape: [1, 3])
    #expect(low.indices.toArray(Int.self) == [0, 1, 0])
    #expect(x.argmax(axis: 1).toArray(Int.self) == [1, 0])
    #expect(x.argmin(axis: 1).toArray(Int.self) == [2, 2])
    #expect(x.argmax(axis: 0, keepingDimensions: true).shape == [1, 3])
    #expect(x.argmax(axis: 0).toArray(Int.self) == [1, 0, 1])
  }

  @Test func allAndAny() {
    let b = Tensor([true, false, true, true], shape: [2, 2])
    #expect(!b.all().boolValue())
    #expect(b.any().boolValue())
    #expect(b.all(axes: [0]).toArray(Bool.self) == [true, false])
    #expect(b.all(axes: [1]).toArray(Bool.self) == [false, true])
    #expect(b.any(axes: [1], keepingDimensions: true).shape == [2, 1])
    #expect(Tensor([0, 2] as [Float]).any().boolValue())
    #expect(!Tensor([0, 2] as [Float]).all().boolValue())
  }

  @Test func varianceAndStandardDeviation() {
    // Sample (n - 1) statistics: rows [1, 2, 3] and [4, 5, 6] have variance 1; all six have 3.5.
    expectValues(m.variance(), [3.5])
    expectValues(m.standardDeviation(), [Foundation.sqrt(3.5)])
    expectValues(m.variance(axes: [1]), [1, 1])
    expectValues(m.variance(axes: [0]), [4.5, 4.5, 4.5])
    expectValues(m.standardDeviation(axes: [0], keepingDimensions: true), [Foundation.sqrt(4.5), Foundation.sqrt(4.5), Foundation.sqrt(4.5)], shape: [1, 3])
  }

  @Test func logSumExpAndNorms() {
    let expected = [1.0, 4].map { r in Foundation.log((0..<3).map { Foundation.exp(r + Double($0)) }.reduce(0, +)) }
    expectValues(m.logSumExp(axes: [1]), expected)
    // Stable for large values.
    expectValues(Tensor([1000, 1000] as [Double]).logSumExp(axes: [0]), [1000 + Foundation.log(2)])
    let v = Tensor([3, -4, 0] as [Double])
    expectValues(v.norm(), [5])
    expectValues(v.norm(1), [7])
    expectValues(v.norm(.infinity), [4])
    expectValues(m.norm(2, axes: [1]), [Foundation.sqrt(14), Foundation.sqrt(77)])
    expectValues(m.norm(axes: [0], keepingDimensions: true), [Foundation.sqrt(17), Foundation.sqrt(29), Foundation.sqrt(45)], shape: [1, 3])
  }

  @Test func countNonzeroAndMedian() {
    let x = Tensor([0, 1, 2, 0, 0, 3] as [Float], shape: [2, 3])
    #expect(x.countNonzero().intValue() == 3)
    #expect(x.countNonzero(axes: [1]).toArray(Int.self) == [2, 1])
    let y = Tensor([4, 1, 3, 2, 9, 8, 7, 6] as [Float], shape: [2, 4])
    let (values, indices) = y.median(axis: 1)
    expectValues(values, [2, 7])  // lower middle for even counts
    #expect(indices.toArray(Int.self) == [3, 2])
  }

  @Test func cumulative() {
    expectValues(m.cumulativeSum(axis: 1), [1, 3, 6, 4, 9, 15])
    expectValues(m.cumulativeSum(axis: 0), [1, 2, 3, 5, 7, 9])
    expectValues(m.cumulativeProduct(axis: 1), [1, 2, 6, 4, 20, 120])
    #expect(Tensor([1, 2, 3] as [Int]).cumulativeSum(axis: 0).toArray(Int.self) == [1, 3, 6])
  }
}
