import Testing

@testable import Torch

@Suite struct ShapeTests {
  /// `[2, 3, 4]` holding 0..<24, so element [i, j, k] is 12i + 4j + k.
  let cube = Tensor.arange(24).reshaped([2, 3, 4])

  @Test func reshapeAndView() {
    let r = cube.reshaped([4, -1])
    #expect(r.shape == [4, 6])
    #expect(r.toArray(Int.self) == Array(0..<24))
    #expect(r.sharesStorage(with: cube))
    #expect(cube.reshaped(6, 4).shape == [6, 4])
    let v = cube.viewed(as: [24])
    #expect(v.sharesStorage(with: cube))
    v[0] = Tensor(scalar: 100)
    #expect(cube[0, 0, 0].intValue() == 100)
    v[0] = Tensor(scalar: 0)
    // A transposed tensor cannot be viewed flat, but it can be reshaped (with a copy).
    let t = cube.transposed(0, 2)
    #expect(throws: TorchError.self) { try withTorchErrors { _ = t.viewed(as: [24]) } }
    let flat = t.reshaped([24])
    #expect(!flat.sharesStorage(with: cube))
    #expect(flat[0..<3].toArray(Int.self) == [0, 12, 4])
  }

  @Test func permuteAndTranspose() {
    let p = cube.permuted(2, 0, 1)
    #expect(p.shape == [4, 2, 3])
    #expect(p.strides == [1, 12, 4])
    let values = p.toArray(Int.self)
    for k in 0..<4 {
      for i in 0..<2 {
        for j in 0..<3 { #expect(values[k * 6 + i * 3 + j] == 12 * i + 4 * j + k) }
      }
    }
    #expect(cube.permuted([0, 2, 1]).shape == [2, 4, 3])
    let t = cube.transposed(-1, 0)
    #expect(t.shape == [4, 3, 2])
    #expect(t[3, 2, 1].intValue() == 12 + 8 + 3)
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    #expect(m.T.shape == [3, 2])
    #expect(m.T.toArray(Float.self) == [1, 4, 2, 5, 3, 6])
  }

  @Test func squeezeAndUnsqueeze() {
    let x = Tensor.zeros([1, 3, 1, 2])
    #expect(x.squeezed().shape == [3, 2])
    #expect(x.squeezed(axis: 2).shape == [1, 3, 2])
    #expect(x.squeezed(axis: 1).shape == [1, 3, 1, 2])  // not size 1: unchanged
    #expect(x.squeezed(axis: -2).shape == [1, 3, 2])
    #expect(x.unsqueezed(axis: 0).shape == [1, 1, 3, 1, 2])
    #expect(x.unsqueezed(axis: -1).shape == [1, 3, 1, 2, 1])
    #expect(Tensor([1, 2] as [Float]).unsqueezed(axis: 1).shape == [2, 1])
  }

  @Test func concatenateAndStack() {
    let a = Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
    let b = Tensor([5, 6] as [Float], shape: [1, 2])
    expectValues(Tensor.concatenate([a, b]), [1, 2, 3, 4, 5, 6], shape: [3, 2])
    expectValues(Tensor.concatenate([a, a], axis: 1), [1, 2, 1, 2, 3, 4, 3, 4], shape: [2, 4])
    expectValues(Tensor.concatenate([a, b.T.T], axis: -2), [1, 2, 3, 4, 5, 6], shape: [3, 2])
    let c = Tensor([7, 8] as [Float], shape: [1, 2])
    expectValues(Tensor.stack([b, c]), [5, 6, 7, 8], shape: [2, 1, 2])
    expectValues(Tensor.stack([b, c], axis: 2), [5, 7, 6, 8], shape: [1, 2, 2])
    expectValues(Tensor.stack([b, c], axis: -1), [5, 7, 6, 8], shape: [1, 2, 2])
    // Temporaries made inside the array stay alive for the call.
    expectValues(Tensor.concatenate([Tensor.ones([2]), Tensor.zeros([1]), Tensor.full([1], value: 3)]), [1, 1, 0, 3])
  }

  @Test func splitChunkAndUnstack() {
    let x = Tensor.arange(10)
    let pieces = x.split(sizes: [3, 5, 2])
    #expect(pieces.map(\.shape) == [[3], [5], [2]])
    #expect(pieces[1].toArray(Int.self) == [3, 4, 5, 6, 7])
    #expect(pieces[2].sharesStorage(with: x))
    let bySize = x.split(size: 4)
    #expect(bySize.map { $0.toArray(Int.self) } == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
    let chunks = x.chunked(3)
    #expect(chunks.map { $0.toArray(Int.self) } == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
    // Fewer pieces come back when the size does not divide evenly (as PyTorch's chunk).
    #expect(Tensor.arange(6).chunked(4).map(\.count) == [2, 2, 2])
    let columns = cube.split(size: 3, axis: -1)
    #expect(columns.map(\.shape) == [[2, 3, 3], [2, 3, 1]])
    #expect(columns[1].toArray(Int.self) == [3, 7, 11, 15, 19, 23])
    let rows = cube.unstacked(axis: 1)
    #expect(rows.count == 3)
    #expect(rows[2].shape == [2, 4])
    #expect(rows[2].toArray(Int.self) == [8, 9, 10, 11, 20, 21, 22, 23])
    #expect(Tensor.stack(cube.unstacked()).isEqual(to: cube))
  }

  @Test func expandFlattenRepeatFlip() {
    let col = Tensor([1, 2] as [Float], shape: [2, 1])
    let e = col.expanded(to: [2, 3])
    #expect(e.shape == [2, 3])
    #expect(e.strides == [1, 0])
    #expect(e.sharesStorage(with: col))
    #expect(e.toArray(Float.self) == [1, 1, 1, 2, 2, 2])
    #expect(col.expanded(to: [4, -1, 5]).shape == [4, 2, 5])
    #expect(col.expanded(as: Tensor.zeros([3, 2, 2])).shape == [3, 2, 2])

    #expect(cube.flattened().shape == [24])
    #expect(cube.flattened(from: 1).shape == [2, 12])
    #expect(cube.flattened(from: 0, to: 1).shape == [6, 4])

    let r = Tensor([1, 2] as [Int]).repeated([2, 3])
    #expect(r.shape == [2, 6])
    #expect(r.toArray(Int.self) == [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2])

    let m = Tensor([1, 2, 3, 4, 5, 6] as [Int], shape: [2, 3])
    #expect(m.flipped(axes: [1]).toArray(Int.self) == [3, 2, 1, 6, 5, 4])
    #expect(m.flipped(axes: [0, 1]).toArray(Int.self) == [6, 5, 4, 3, 2, 1])
  }

  @Test func contiguousAndChannelsLast() {
    let t = cube.transposed(1, 2)
    #expect(!t.isContiguous)
    let c = t.contiguous()
    #expect(c.isContiguous)
    #expect(c.strides == [12, 3, 1])
    #expect(c.toArray(Int.self) == t.toArray(Int.self))
    #expect(cube.contiguous().sharesStorage(with: cube))

    let image = Tensor.arange(24, dtype: .float32).reshaped([1, 2, 3, 4])
    #expect(!image.isChannelsLast)
    let nhwc = image.channelsLast()
    #expect(nhwc.shape == [1, 2, 3, 4])
    #expect(nhwc.isChannelsLast)
    #expect(!nhwc.isContiguous)
    #expect(nhwc.strides == [24, 1, 8, 2])
    #expect(nhwc.toArray(Float.self) == (0..<24).map(Float.init))
    // Memory order is channel-fastest: the raw bytes interleave the two channels.
    let memory = nhwc.permuted(0, 2, 3, 1).toArray(Float.self)
    #expect(Array(memory.prefix(4)) == [0, 12, 1, 13])
    // Convolutions accept it and give the same numbers.
    let w = sampleTensor([3, 2, 2, 2])
    let expected = Functional.conv2d(image, weight: w)
    #expect(Functional.conv2d(nhwc, weight: w).isClose(to: expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-4))
  }

  @Test func padding() {
    let x = Tensor([1, 2, 3] as [Float], shape: [1, 1, 3])
    expectValues(x.padded([1, 2]), [0, 1, 2, 3, 0, 0], shape: [1, 1, 6])
    expectValues(x.padded([2, 1], value: -1), [-1, -1, 1, 2, 3, -1])
    expectValues(x.padded([2, 2], mode: .reflect), [3, 2, 1, 2, 3, 2, 1])
    expectValues(x.padded([2, 1], mode: .replicate), [1, 1, 1, 2, 3, 3])
    let m = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2])
    expectValues(m.padded([0, 1, 1, 0]), [0, 0, 0, 1, 2, 0, 3, 4, 0], shape: [1, 1, 3, 3])
  }

  @Test func triangles() {
    let m = Tensor.ones([3, 3], dtype: .int64)
    #expect(m.lowerTriangle().toArray(Int.self) == [1, 0, 0, 1, 1, 0, 1, 1, 1])
    #expect(m.upperTriangle().toArray(Int.self) == [1, 1, 1, 0, 1, 1, 0, 0, 1])
    #expect(m.upperTriangle(diagonal: 1).toArray(Int.self) == [0, 1, 1, 0, 0, 1, 0, 0, 0])
    #expect(m.lowerTriangle(diagonal: -1).toArray(Int.self) == [0, 0, 0, 1, 0, 0, 1, 1, 0])
  }

  @Test func meshgrid() {
    let grids = Tensor.meshgrid([Tensor([1, 2] as [Int]), Tensor([10, 20, 30] as [Int])])
    #expect(grids.count == 2)
    #expect(grids[0].shape == [2, 3])
    #expect(grids[0].toArray(Int.self) == [1, 1, 1, 2, 2, 2])
    #expect(grids[1].toArray(Int.self) == [10, 20, 30, 10, 20, 30])
  }

  @Test func sizeAndRank() {
    #expect(cube.size(0) == 2)
    #expect(cube.size(-1) == 4)
    #expect(cube.rank == 3)
    #expect(cube.count == 24)
    let big = Tensor.zeros([1, 1, 1, 1, 1, 1, 1, 1, 2, 3])
    #expect(big.shape == [1, 1, 1, 1, 1, 1, 1, 1, 2, 3])
    #expect(big.rank == 10)
  }
}
