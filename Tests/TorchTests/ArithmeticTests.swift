import Foundation
import Testing

@testable import Torch

/// Element-wise arithmetic, comparisons, math functions, activations, clamping and matmul.
@Suite struct ArithmeticTests {
  let a = Tensor([1, -2, 3.5, 4] as [Float])
  let b = Tensor([2, 4, -1, 0.5] as [Float])

  @Test func operatorsWithAllThreeOverloads() {
    expectValues(a + b, [3, 2, 2.5, 4.5])
    expectValues(a + 1, [2, -1, 4.5, 5])
    expectValues(1.5 + a, [2.5, -0.5, 5, 5.5])
    expectValues(a - b, [-1, -6, 4.5, 3.5])
    expectValues(a - 1, [0, -3, 2.5, 3])
    expectValues(10 - a, [9, 12, 6.5, 6])
    expectValues(a * b, [2, -8, -3.5, 2])
    expectValues(a * 2, [2, -4, 7, 8])
    expectValues(3 * a, [3, -6, 10.5, 12])
    expectValues(a / b, [0.5, -0.5, -3.5, 8])
    expectValues(a / 2, [0.5, -1, 1.75, 2])
    expectValues(1 / b, [0.5, 0.25, -1, 2])
    expectValues(-a, [-1, 2, -3.5, -4])
  }

  @Test func remainderFollowsTheDivisorsSign() {
    let x = Tensor([5, -5, 5, -5] as [Int])
    let y = Tensor([3, 3, -3, -3] as [Int])
    #expect((x % y).toArray(Int.self) == [2, 1, -1, -2])
    #expect((x % 3).toArray(Int.self) == [2, 1, 2, 1])
    #expect((7 % Tensor([4, -4] as [Int])).toArray(Int.self) == [3, -1])
    expectValues(Tensor([5.5, -5.5] as [Float]) % 2, [1.5, 0.5])
  }

  @Test func integerDivisionRoundings() {
    let x = Tensor([7, -7, 7, -7] as [Int])
    let y = Tensor([2, 2, -2, -2] as [Int])
    #expect(x.floorDivided(by: y).toArray(Int.self) == [3, -4, -4, 3])
    #expect(x.truncDivided(by: y).toArray(Int.self) == [3, -3, -3, 3])
    #expect(x.floorDivided(by: 2).toArray(Int.self) == [3, -4, 3, -4])
    #expect(x.truncDivided(by: 2).toArray(Int.self) == [3, -3, 3, -3])
    #expect(x.floorDivided(by: 2).dtype == .int64)
  }

  @Test func broadcasting() {
    let col = Tensor([1, 2] as [Float], shape: [2, 1])
    let row = Tensor([10, 20, 30] as [Float], shape: [1, 3])
    expectValues(col + row, [11, 21, 31, 12, 22, 32], shape: [2, 3])
    expectValues(col * Tensor(scalar: Float(3)), [3, 6], shape: [2, 1])
  }

  @Test func compoundAssignmentIsInPlaceAndSeenThroughViews() {
    let base = Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
    let row = base[1]
    row += 10
    #expect(base.toArray(Float.self) == [1, 2, 13, 14])
    row *= Tensor([2, 3] as [Float])
    #expect(base.toArray(Float.self) == [1, 2, 26, 42])
    row -= 1
    row /= 5
    expectValues(base, [1, 2, 5, 8.2])
    let whole = base
    whole += base  // adds itself element-wise
    expectValues(base, [2, 4, 10, 16.4])
    whole -= Tensor([1, 1] as [Float])
    expectValues(base, [1, 3, 9, 15.4])
    #expect(whole === base)
  }

  @Test func comparisonsGiveBoolTensors() {
    let x = Tensor([1, 2, 3] as [Float])
    let y = Tensor([3, 2, 1] as [Float])
    #expect((x .== y).dtype == .bool)
    #expect((x .== y).toArray(Bool.self) == [false, true, false])
    #expect((x .!= y).toArray(Bool.self) == [true, false, true])
    #expect((x .< y).toArray(Bool.self) == [true, false, false])
    #expect((x .<= y).toArray(Bool.self) == [true, true, false])
    #expect((x .> y).toArray(Bool.self) == [false, false, true])
    #expect((x .>= y).toArray(Bool.self) == [false, true, true])
    #expect((x .== 2).toArray(Bool.self) == [false, true, false])
    #expect((x .!= 2).toArray(Bool.self) == [true, false, true])
    #expect((x .< 2).toArray(Bool.self) == [true, false, false])
    #expect((x .<= 2).toArray(Bool.self) == [true, true, false])
    #expect((x .> 2).toArray(Bool.self) == [false, false, true])
    #expect((x .>= 2).toArray(Bool.self) == [false, true, true])
    // A number on the left reads the same way round: 2 < x.
    #expect((2 .== x).toArray(Bool.self) == [false, true, false])
    #expect((2 .!= x).toArray(Bool.self) == [true, false, true])
    #expect((2 .< x).toArray(Bool.self) == [false, false, true])
    #expect((2 .<= x).toArray(Bool.self) == [false, true, true])
    #expect((2 .> x).toArray(Bool.self) == [true, false, false])
    #expect((2 .>= x).toArray(Bool.self) == [true, true, false])
  }

  @Test func logicalAndBitwiseOperations() {
    let p = Tensor([true, true, false, false])
    let q = Tensor([true, false, true, false])
    #expect((p .&& q).toArray(Bool.self) == [true, false, false, false])
    #expect((p .|| q).toArray(Bool.self) == [true, true, true, false])
    #expect(p.logicalXor(q).toArray(Bool.self) == [false, true, true, false])
    #expect((!p).toArray(Bool.self) == [false, false, true, true])
    let x = Tensor([0b1100, 0b1010] as [Int])
    let y = Tensor([0b1010, 0b0110] as [Int])
    #expect(x.bitwiseAnd(y).toArray(Int.self) == [0b1000, 0b0010])
    #expect(x.bitwiseOr(y).toArray(Int.self) == [0b1110, 0b1110])
    #expect(x.bitwiseXor(y).toArray(Int.self) == [0b0110, 0b1100])
    #expect(x.bitwiseNot().toArray(Int.self) == [~0b1100, ~0b1010])
    // Comparisons combine into masks.
    let v = Tensor([1, 5, 9] as [Float])
    #expect(((v .> 2) .&& (v .< 8)).toArray(Bool.self) == [false, true, false])
  }

  @Test func namedBinaryOperations() {
    expectValues(Tensor([2, 3, 4] as [Float]).pow(2), [4, 9, 16])
    expectValues(Tensor([2, 3, 4] as [Float]).pow(Tensor([3, 0, 0.5] as [Float])), [8, 1, 2])
    expectValues(a.maximum(b), [2, 4, 3.5, 4])
    expectValues(a.minimum(b), [1, -2, -1, 0.5])
    expectValues(a.maximum(0), [1, 0, 3.5, 4])
    expectValues(a.minimum(0), [0, -2, 0, 0])
    let y = Tensor([1, 1, -1, -1] as [Double])
    let x = Tensor([1, -1, -1, 1] as [Double])
    expectValues(y.atan2(x), [Double.pi / 4, 3 * Double.pi / 4, -3 * Double.pi / 4, -Double.pi / 4])
  }

  @Test func unaryMath() {
    let x = Tensor([0.25, 1, 4] as [Double])
    expectValues(x.exp(), [Foundation.exp(0.25), Foundation.exp(1), Foundation.exp(4)])
    expectValues(x.log(), [Foundation.log(0.25), 0, Foundation.log(4)])
    expectValues(x.log2(), [-2, 0, 2])
    expectValues(x.sqrt(), [0.5, 1, 2])
    expectValues(x.rsqrt(), [2, 1, 0.5])
    expectValues(x.squared(), [0.0625, 1, 16])
    expectValues(x.reciprocal(), [4, 1, 0.25])
    // Accurate where 1 + x rounds away x's low digits.
    let tiny = Tensor([1e-10] as [Double])
    #expect(Swift.abs(tiny.log1p().doubleValue() / (1e-10 - 5e-21) - 1) < 1e-14)
    #expect(Swift.abs(tiny.expm1().doubleValue() / (1e-10 + 5e-21) - 1) < 1e-14)
    let angles = Tensor([0, Double.pi / 6, Double.pi / 4] as [Double])
    expectValues(angles.sin(), [0, 0.5, Foundation.sqrt(0.5)])
    expectValues(angles.cos(), [1, Foundation.sqrt(3) / 2, Foundation.sqrt(0.5)])
    expectValues(angles.tan(), [0, 1 / Foundation.sqrt(3), 1])
    expectValues(Tensor([1, -1] as [Double]).atan(), [Double.pi / 4, -Double.pi / 4])
    expectValues(Tensor([0, 0.5] as [Double]).erf(), [0, 0.520_499_877_813_046_5])

    let r = Tensor([-2.5, -1.5, -0.4, 0.5, 1.5, 2.7] as [Float])
    expectValues(r.abs(), [2.5, 1.5, 0.4, 0.5, 1.5, 2.7])
    expectValues(r.floor(), [-3, -2, -1, 0, 1, 2])
    expectValues(r.ceil(), [-2, -1, 0, 1, 2, 3])
    expectValues(r.rounded(), [-2, -2, 0, 0, 2, 3])  // half to even
    expectValues(r.truncated(), [-2, -1, 0, 0, 1, 2])
    expectValues(r.sign(), [-1, -1, -1, 1, 1, 1])
    expectValues(Tensor([0] as [Float]).sign(), [0])
  }

  @Test func nanAndInfinityTests() {
    let x = Tensor([1, Float.nan, Float.infinity, -Float.infinity] as [Float])
    #expect(x.isNaN().toArray(Bool.self) == [false, true, false, false])
    #expect(x.isFinite().toArray(Bool.self) == [true, false, false, false])
    #expect(x.isInfinite().toArray(Bool.self) == [false, false, true, true])
    #expect(Tensor([-1] as [Float]).sqrt().isNaN().boolValue())
  }

  @Test func activations() {
    let values: [Double] = [-3, -0.5, 0, 0.5, 3, 7]
    let x = Tensor(values)
    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
    expectValues(x.relu(), values.map { Swift.max($0, 0) })
    expectValues(x.relu6(), values.map { Swift.min(Swift.max($0, 0), 6) })
    expectValues(x.sigmoid(), values.map(sigmoid))
    expectValues(x.tanh(), values.map { Foundation.tanh($0) })
    expectValues(x.gelu(), values.map { $0 * 0.5 * (1 + Foundation.erf($0 / Foundation.sqrt(2))) })
    expectValues(x.silu(), values.map { $0 * sigmoid($0) })
    expectValues(x.softplus(), values.map { Foundation.log(1 + Foundation.exp($0)) })
    expectValues(x.logSigmoid(), values.map { Foundation.log(sigmoid($0)) })
    expectValues(x.hardSigmoid(), values.map { Swift.min(Swift.max($0 / 6 + 0.5, 0), 1) })
    expectValues(x.hardSwish(), values.map { $0 * Swift.min(Swift.max($0 + 3, 0), 6) / 6 })
    expectValues(x.mish(), values.map { $0 * Foundation.tanh(Foundation.log(1 + Foundation.exp($0))) })
    expectValues(x.leakyRelu(negativeSlope: 0.1), values.map { $0 < 0 ? 0.1 * $0 : $0 })
    expectValues(x.leakyRelu(), values.map { $0 < 0 ? 0.01 * $0 : $0 })
    expectValues(x.elu(alpha: 2), values.map { $0 < 0 ? 2 * (Foundation.exp($0) - 1) : $0 })
    expectValues(x.hardTanh(min: -1, max: 2), values.map { Swift.min(Swift.max($0, -1), 2) })
  }

  @Test func softmaxAndLogSoftmax() {
    let x = Tensor([1, 2, 3, -1, 0, 1000] as [Double], shape: [2, 3])
    let e = [1.0, 2, 3].map { Foundation.exp($0) }
    let z = e.reduce(0, +)
    let s = x.softmax(axis: 1)
    expectValues(s, [e[0] / z, e[1] / z, e[2] / z, 0, 0, 1], shape: [2, 3])
    let l = x.logSoftmax(axis: -1)
    // Stable even where exp overflows: the large logit's row is [-1001, -1000, 0].
    expectValues(l, [1 - Foundation.log(z), 2 - Foundation.log(z), 3 - Foundation.log(z), -1001, -1000, 0])
    // Along the other axis each column sums to one.
    expectValues(x.softmax(axis: 0).sum(axis: 0), [1, 1, 1])
    expectValues(Tensor([0, 0] as [Float]).softmax(axis: 0), [0.5, 0.5])
  }

  @Test func clamping() {
    let x = Tensor([-2, 0.5, 3, Float.nan] as [Float])
    expectValues(x.clamped(min: 0, max: 1), [0, 0.5, 1, .nan])
    expectValues(x.clamped(min: 0), [0, 0.5, 3, .nan])
    expectValues(x.clamped(max: 1), [-2, 0.5, 1, .nan])
    expectValues(x.clamped(min: Tensor([-1, 1, 0, 0] as [Float]), max: nil), [-1, 1, 3, .nan])
    expectValues(x.clamped(min: nil, max: Tensor([0, 0, 2, 0] as [Float])), [-2, 0, 2, .nan])
    let i = Tensor([-5, 5, 50] as [Int])
    let c = i.clamped(min: 0, max: 10)
    #expect(c.dtype == .int64)
    #expect(c.toArray(Int.self) == [0, 5, 10])
    let y = Tensor([-2, 0.5, 3] as [Float])
    y.clamp(min: -1, max: 1)
    #expect(y.toArray(Float.self) == [-1, 0.5, 1])
    y.clamp(max: 0)
    #expect(y.toArray(Float.self) == [-1, 0, 0])
  }

  @Test func matmul() {
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    let n = Tensor([7, 8, 9, 10, 11, 12] as [Float], shape: [3, 2])
    expectValues(m.matmul(n), [58, 64, 139, 154], shape: [2, 2])
    // Matrix-vector and vector-vector.
    let v = Tensor([1, 0, -1] as [Float])
    expectValues(m.matmul(v), [-2, -2], shape: [2])
    expectValues(v.matmul(v), [2], shape: [])
    // Batched with broadcasting: [2, 2, 3] x [3, 2].
    let batch = Tensor.stack([m, m * 2])
    expectValues(batch.matmul(n), [58, 64, 139, 154, 116, 128, 278, 308], shape: [2, 2, 2])
    // Transposed operands (non-contiguous) give the same product.
    expectValues(n.T.matmul(m.T), [58, 139, 64, 154], shape: [2, 2])
    let linear = Functional.linear(m, weight: n.T, bias: Tensor([1, -1] as [Float]))
    expectValues(linear, [59, 63, 140, 153], shape: [2, 2])
  }

  @Test func selectWhere() {
    let condition = Tensor([true, false, true])
    let x = Tensor([1, 2, 3] as [Float])
    let y = Tensor([10, 20, 30] as [Float])
    expectValues(Tensor.select(where: condition, x, y), [1, 20, 3])
    expectValues(x.replacing(with: y, where: condition), [10, 2, 30])
    // Broadcasts a 0-dim tensor.
    expectValues(Tensor.select(where: x .> 1.5, x, Tensor(scalar: Float(0))), [0, 2, 3])
  }

  @Test func closenessAndEquality() {
    let x = Tensor([1, 2, 3] as [Float])
    #expect(x.isClose(to: x + 1e-7))
    #expect(!x.isClose(to: x + 1e-3))
    #expect(x.isClose(to: x + 1e-3, relativeTolerance: 0, absoluteTolerance: 2e-3))
    #expect(x.isEqual(to: Tensor([1, 2, 3] as [Float])))
    #expect(!x.isEqual(to: Tensor([1, 2, 4] as [Float])))
    let nan = Tensor([Float.nan] as [Float])
    #expect(!nan.isClose(to: nan))
    #expect(nan.isClose(to: nan, equalNaN: true))
    // Different shapes are never close or equal, even where they would broadcast.
    #expect(!Tensor([1, 1, 1] as [Float]).isClose(to: Tensor([1] as [Float])))
    #expect(!Tensor([1, 1] as [Float]).isEqual(to: Tensor([1] as [Float])))
  }
}
