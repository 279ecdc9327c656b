import Testing

@testable import Torch

@Suite struct CreationTests {
  @Test func zerosOnesAndFull() {
    let z = Tensor.zeros([2, 3])
    #expect(z.shape == [2, 3])
    #expect(z.dtype == .float32)
    #expect(z.count == 6)
    #expect(z.rank == 2)
    #expect(z.toArray(Float.self) == [0, 0, 0, 0, 0, 0])

    let o = Tensor.ones([4], dtype: .int64)
    #expect(o.dtype == .int64)
    #expect(o.toArray(Int.self) == [1, 1, 1, 1])

    let f = Tensor.full([2, 2], value: 2.5, dtype: .float64)
    #expect(f.dtype == .float64)
    #expect(f.toArray(Double.self) == [2.5, 2.5, 2.5, 2.5])

    let r = Tensor(repeating: 7, shape: [3], dtype: .int32)
    #expect(r.dtype == .int32)
    #expect(r.toArray(Int32.self) == [7, 7, 7])

    let e = Tensor.empty([3, 0, 2])
    #expect(e.shape == [3, 0, 2])
    #expect(e.count == 0)
    #expect(e.toArray(Float.self) == [])
  }

  @Test func likeFactoriesKeepShapeAndDType() {
    let x = Tensor([1, 2, 3, 4, 5, 6] as [Int32], shape: [3, 2])
    for (t, value) in [(x.zerosLike(), 0), (x.onesLike(), 1), (x.fullLike(9), 9)] {
      #expect(t.shape == [3, 2])
      #expect(t.dtype == .int32)
      #expect(t.toArray(Int.self) == [Int](repeating: value, count: 6))
    }
  }

  @Test func arangeLinspaceAndEye() {
    let a = Tensor.arange(5)
    #expect(a.dtype == .int64)
    #expect(a.toArray(Int.self) == [0, 1, 2, 3, 4])
    #expect(Tensor.arange(2, 11, step: 3).toArray(Int.self) == [2, 5, 8])
    #expect(Tensor.arange(5, 0, step: -2).toArray(Int.self) == [5, 3, 1])
    expectValues(Tensor.arange(0, 1, step: 0.25, dtype: .float32), [0, 0.25, 0.5, 0.75], shape: [4])
    expectValues(Tensor.arange(3, dtype: .float64), [0, 1, 2])
    #expect(Tensor.arange(3, dtype: .float64).dtype == .float64)

    let l = Tensor.linspace(-1, 1, count: 5)
    #expect(l.dtype == .float32)
    expectValues(l, [-1, -0.5, 0, 0.5, 1])

    #expect(Tensor.eye(3).toArray(Float.self) == [1, 0, 0, 0, 1, 0, 0, 0, 1])
  }

  /// Float bounds without a dtype give floats, as `torch.arange(0, 1, 0.25)` does; integer bounds
  /// give int64.
  @Test func arangeInfersDTypeFromItsBounds() {
    let f = Tensor.arange(0, 1, step: 0.25)
    #expect(f.dtype == .float32)
    expectValues(f, [0, 0.25, 0.5, 0.75])
    let g = Tensor.arange(0.5, 3)
    #expect(g.dtype == .float32)
    expectValues(g, [0.5, 1.5, 2.5])
    #expect(Tensor.arange(1, 4).dtype == .int64)
  }

  @Test func fromSwiftArrays() {
    let f = Tensor([1.5, -2, 3] as [Float])
    #expect(f.shape == [3])
    #expect(f.dtype == .float32)
    #expect(f.toArray(Float.self) == [1.5, -2, 3])

    let d = Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3])
    #expect(d.dtype == .float64)
    #expect(d.shape == [2, 3])
    #expect(d.strides == [3, 1])
    #expect(d[1, 2].doubleValue() == 6)

    let i = Tensor([Int.max, Int.min, 0])
    #expect(i.dtype == .int64)
    #expect(i.toArray(Int.self) == [Int.max, Int.min, 0])

    let i64 = Tensor([-3, 4] as [Int64])
    #expect(i64.dtype == .int64)
    #expect(i64.toArray(Int64.self) == [-3, 4])

    let i32 = Tensor([Int32.max, -1])
    #expect(i32.dtype == .int32)
    #expect(i32.toArray(Int32.self) == [Int32.max, -1])

    let u8 = Tensor([0, 128, 255] as [UInt8])
    #expect(u8.dtype == .uint8)
    #expect(u8.toArray(UInt8.self) == [0, 128, 255])

    let b = Tensor([true, false, true])
    #expect(b.dtype == .bool)
    #expect(b.toArray(Bool.self) == [true, false, true])

    let empty = Tensor([Float](), shape: [0, 4])
    #expect(empty.shape == [0, 4])
  }

  @Test func scalarsAndReads() {
    let s = Tensor(scalar: 3.25)
    #expect(s.shape == [])
    #expect(s.rank == 0)
    #expect(s.count == 1)
    #expect(s.dtype == .float64)
    #expect(s.doubleValue() == 3.25)
    #expect(s.floatValue() == 3.25)
    #expect(s.intValue() == 3)
    #expect(s.item() == .float(3.25))

    let i = Tensor(scalar: Int64(-7))
    #expect(i.item() == .int(-7))
    #expect(i.intValue() == -7)
    #expect(i.doubleValue() == -7)

    let b = Tensor(scalar: true)
    #expect(b.item() == .bool(true))
    #expect(b.boolValue())
    #expect(b.intValue() == 1)

    // A one-element tensor of any rank reads as a scalar.
    #expect(Tensor([42] as [Int32], shape: [1, 1]).intValue() == 42)
  }

  @Test func fromRawBuffers() {
    let values: [Float] = [1.5, -2, 0.25, 8]
    let t = values.withUnsafeBytes { Tensor(bytes: $0, shape: [2, 2], dtype: .float32) }
    #expect(t.shape == [2, 2])
    #expect(t.toArray(Float.self) == values)
    #expect(t.bytes() == values.withUnsafeBytes { Array($0) })

    // bfloat16 1.0 is 0x3F80 and -2.0 is 0xC000, stored little-endian.
    let bf: [UInt8] = [0x80, 0x3F, 0x00, 0xC0]
    let b = bf.withUnsafeBytes { Tensor(bytes: $0, shape: [2], dtype: .bfloat16) }
    #expect(b.dtype == .bfloat16)
    #expect(b.toArray(Float.self) == [1, -2])
    #expect(b.bytes() == bf)

    // float16 0.5 is 0x3800.
    let h: [UInt8] = [0x00, 0x38]
    #expect(h.withUnsafeBytes { Tensor(bytes: $0, shape: [], dtype: .float16) }.doubleValue() == 0.5)

    let longs: [Int64] = [1, -1]
    let l = longs.withUnsafeBytes { Tensor(bytes: $0, shape: [2], dtype: .int64) }
    #expect(l.toArray(Int64.self) == [1, -1])
  }

  @Test func readingConvertsTheElementType() {
    let f = Tensor([1.9, -1.9, 0] as [Float])
    #expect(f.toArray(Int.self) == [1, -1, 0])
    #expect(f.toArray(Bool.self) == [true, true, false])
    #expect(f.toArray(Double.self) == [Double(Float(1.9)), Double(Float(-1.9)), 0])
    #expect(Tensor([1, 0, 3]).toArray(Float.self) == [1, 0, 3])
    #expect(Tensor([true, false]).toArray(Float.self) == [1, 0])
  }

  @Test func readingNonContiguousTensorsGivesLogicalOrder() {
    let t = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3]).T
    #expect(!t.isContiguous)
    #expect(t.toArray(Float.self) == [1, 4, 2, 5, 3, 6])
    #expect(t.bytes() == ([1, 4, 2, 5, 3, 6] as [Float]).withUnsafeBytes { Array($0) })
  }

  @Test func descriptionShowsTheValues() {
    let text = Tensor([1, 2] as [Int]).description
    #expect(text.contains("1"))
    #expect(text.contains("2"))
    #expect(text.contains("Long"))
  }

  @Test func deviceIsCPU() {
    let t = Tensor.zeros([2])
    #expect(t.device == .cpu)
    #expect(t.to(.cpu).device == .cpu)
    #expect(Device.cuda(1).description == "cuda:1")
    #expect(Device.cpu.description == "cpu")
  }
}
