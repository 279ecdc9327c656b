import Testing

@testable import Torch

/// Element types: conversions, PyTorch's promotion rules for mixed operands, and bool tensors.
@Suite struct DTypeTests {
  @Test(arguments: DType.allCases)
  func everyDTypeRoundTrips(_ dtype: DType) {
    let t = Tensor.ones([3], dtype: dtype)
    #expect(t.dtype == dtype)
    #expect(t.bytes().count == 3 * dtype.byteSize)
    #expect(t.toArray(Double.self) == [1, 1, 1])
    #expect(t.to(.float32).to(dtype).dtype == dtype)
    #expect(dtype.isFloatingPoint == [.float32, .float64, .float16, .bfloat16].contains(dtype))
  }

  @Test func floatToIntegerTruncatesTowardsZero() {
    let f = Tensor([1.7, -1.7, 2.5, -0.2] as [Float])
    let i = f.to(.int64)
    #expect(i.dtype == .int64)
    #expect(i.toArray(Int.self) == [1, -1, 2, 0])
    #expect(f.to(.int32).toArray(Int32.self) == [1, -1, 2, 0])
  }

  @Test func conversionsRoundToTheTargetPrecision() {
    let third = Tensor([1.0 / 3] as [Double])
    // float16 keeps 10 fraction bits, bfloat16 keeps 7.
    #expect(third.to(.float16).toArray(Double.self) == [0.333_251_953_125])
    #expect(third.to(.bfloat16).toArray(Double.self) == [0.333_984_375])
    #expect(third.to(.float32).toArray(Double.self) == [Double(Float(1.0 / 3))])
    #expect(Tensor([70000] as [Float]).to(.float16).isInfinite().boolValue())
    // Integers wrap when narrowed, as in C.
    #expect(Tensor([300, -1] as [Int]).to(.uint8).toArray(UInt8.self) == [44, 255])
  }

  @Test func boolConversions() {
    let f = Tensor([0, 0.5, -2] as [Float])
    #expect(f.to(.bool).toArray(Bool.self) == [false, true, true])
    #expect(Tensor([true, false]).to(.float32).toArray(Float.self) == [1, 0])
    #expect(Tensor([true, false]).to(.int64).toArray(Int.self) == [1, 0])
  }

  @Test func integerArithmeticStaysIntegral() {
    let i = Tensor([1, 2, 3] as [Int])
    #expect((i + 1).dtype == .int64)
    #expect((i + 1).toArray(Int.self) == [2, 3, 4])
    #expect((1 + i).dtype == .int64)
    #expect((i * 3 - 2).dtype == .int64)
    #expect((i * i).dtype == .int64)
    #expect(i.pow(2).dtype == .int64)
    #expect(i.pow(2).toArray(Int.self) == [1, 4, 9])
    // A Swift number never widens a tensor of its own kind.
    let i8 = Tensor([100] as [Int32]).to(.int8)
    #expect((i8 + 1).dtype == .int8)
    let small = Tensor([250] as [UInt8])
    #expect((small + 10).dtype == .uint8)
    #expect((small + 10).toArray(UInt8.self) == [4])  // wraps
    let i32 = Tensor([1, 2] as [Int32])
    #expect((i32 + 1).dtype == .int32)
    // In-place with an integer keeps the dtype.
    let j = Tensor([1, 2] as [Int])
    j += 5
    #expect(j.dtype == .int64)
    #expect(j.toArray(Int.self) == [6, 7])
  }

  @Test func divisionOfIntegersGivesFloats() {
    let i = Tensor([1, 2, 7] as [Int])
    let q = i / Tensor([2, 2, 2] as [Int])
    #expect(q.dtype == .float32)
    #expect(q.toArray(Float.self) == [0.5, 1, 3.5])
    #expect((i / 2).dtype == .float32)
    #expect((i / 2).toArray(Float.self) == [0.5, 1, 3.5])
    #expect((7 / i).toArray(Float.self) == [7, 3.5, 1])
    #expect(i.sqrt().dtype == .float32)
  }

  @Test func mixingKindsPromotes() {
    let i = Tensor([1, 2] as [Int])
    let f = Tensor([0.5, 0.25] as [Float])
    let d = Tensor([1, 1] as [Double])
    #expect((i + 0.5).dtype == .float32)
    #expect((i + 0.5).toArray(Float.self) == [1.5, 2.5])
    #expect((i + f).dtype == .float32)
    #expect((f + d).dtype == .float64)
    // A Swift Double does not widen a float32 tensor, as a Python float does not.
    #expect((f * 2.0).dtype == .float32)
    #expect((Tensor([1] as [Float]).to(.float16) + 1.5).dtype == .float16)
    #expect((Tensor([1] as [Float]).to(.bfloat16) * f).dtype == .float32)
  }

  @Test func boolTensors() {
    let b = Tensor([true, false, true])
    #expect(b.dtype == .bool)
    #expect(b.count == 3)
    #expect(b.bytes() == [1, 0, 1])
    #expect(b.sum().dtype == .int64)
    #expect(b.sum().intValue() == 2)
    #expect((b + 1).dtype == .int64)
    #expect((b + 1).toArray(Int.self) == [2, 1, 2])
    #expect((b * 1.5).dtype == .float32)
    #expect((b .== Tensor([true, true, true])).toArray(Bool.self) == [true, false, true])
    #expect(Tensor(scalar: false).item() == .bool(false))
    // A bool mask converts to 0/1 for arithmetic.
    expectValues(Tensor([3, 4, 5] as [Float]) * b.to(.float32), [3, 0, 5])
  }

  @Test func scalarKindsAreKept() {
    #expect(3.scalar == .int(3))
    #expect(Float(2.5).scalar == .float(2.5))
    #expect(true.scalar == .bool(true))
    #expect(Int32(-4).scalar == .int(-4))
    #expect(UInt8(200).scalar == .int(200))
    #expect(Scalar.int(5).doubleValue == 5)
    #expect(Scalar.bool(true).doubleValue == 1)
    #expect(Tensor(scalar: Float(2)).item() == .float(2))
    #expect(Tensor(scalar: UInt8(200)).item() == .int(200))
  }

  @Test func deviceConversion() throws {
    let t = Tensor([1, 2] as [Float])
    #expect(t.to(.cpu).device == .cpu)
    let both = t.to(.cpu, .float64)
    #expect(both.dtype == .float64)
    #expect(both.toArray(Double.self) == [1, 2])
    if Device.cudaDeviceCount == 0 {
      let error = try #require(throws: TorchError.self) { try withTorchErrors { _ = t.to(.cuda(0)) } }
      #expect(error.operation == "to(cuda:0)")
    } else {
      let g = t.to(.cuda(0))
      #expect(g.device == .cuda(0))
      #expect(g.toArray(Float.self) == [1, 2])
      #expect(Tensor.ones([2], device: .cuda(0)).to(.cpu).toArray(Float.self) == [1, 1])
    }
  }
}
