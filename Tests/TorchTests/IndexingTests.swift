import Testing

@testable import Torch

@Suite struct IndexingTests {
  /// `[2, 3, 4]` holding 0..<24, so element [i, j, k] is 12i + 4j + k.
  let cube = Tensor.arange(24).reshaped([2, 3, 4])

  @Test func integerAndRangeSubscripts() {
    #expect(cube[1, 2, 3].intValue() == 23)
    #expect(cube[-1, -1, -1].intValue() == 23)
    #expect(cube[1].shape == [3, 4])
    #expect(cube[1].toArray(Int.self) == Array(12..<24))
    #expect(cube[0, 1].toArray(Int.self) == [4, 5, 6, 7])
    #expect(cube[0, 1..<3, 2].toArray(Int.self) == [6, 10])
    #expect(cube[0, 1...2, 2].toArray(Int.self) == [6, 10])
    #expect(cube[0, 1..., 3].toArray(Int.self) == [7, 11])
    #expect(cube[0, ..<1, 3].toArray(Int.self) == [3])
    #expect(cube[0, ...1, 3].toArray(Int.self) == [3, 7])
    #expect(cube[.all, 0, 0].toArray(Int.self) == [0, 12])
    #expect(cube[1, 2, TensorIndex.range(start: nil, end: nil, step: 2)].toArray(Int.self) == [20, 22])
    #expect(cube[1, 2, TensorIndex.range(start: -3, end: nil, step: 1)].toArray(Int.self) == [21, 22, 23])
    // Out-of-range slice bounds clamp, as in Python.
    #expect(cube[1, 2, TensorIndex.range(start: 2, end: 100, step: 1)].toArray(Int.self) == [22, 23])
    #expect(cube[1, 2, TensorIndex.range(start: 3, end: 1, step: 1)].count == 0)
    // Basic indexing gives views.
    #expect(cube[1, 1..<3].sharesStorage(with: cube))
  }

  @Test func newAxisAndEllipsis() {
    #expect(cube[.newAxis].shape == [1, 2, 3, 4])
    #expect(cube[.all, .newAxis].shape == [2, 1, 3, 4])
    #expect(cube[.ellipsis, 0].shape == [2, 3])
    #expect(cube[.ellipsis, 0].toArray(Int.self) == [0, 4, 8, 12, 16, 20])
    #expect(cube[1, .ellipsis, 2].toArray(Int.self) == [14, 18, 22])
    #expect(cube[.ellipsis, .newAxis].shape == [2, 3, 4, 1])
    #expect(cube[.all, .newAxis, .ellipsis, 0].shape == [2, 1, 3])
    #expect(cube[.newAxis, .ellipsis, 1, 2].shape == [1, 2])
    #expect(cube[.newAxis, .ellipsis, 1, 2].toArray(Int.self) == [6, 18])
  }

  @Test func subscriptAssignment() {
    let x = Tensor.zeros([3, 4])
    x[1] = Tensor([1, 2, 3, 4] as [Float])
    x[2, 1..<3] = Tensor(scalar: Float(7))
    x[.all, 0] = Tensor([9, 9, 9] as [Float])
    #expect(x.toArray(Float.self) == [9, 0, 0, 0, 9, 2, 3, 4, 9, 7, 7, 0])
    // A mask or index tensor on its own writes through index_put.
    x[x .== 9] = Tensor(scalar: Float(-1))
    #expect(x[.all, 0].toArray(Float.self) == [-1, -1, -1])
    x[Tensor([0, 2] as [Int])] = Tensor(scalar: Float(5))
    #expect(x.toArray(Float.self) == [5, 5, 5, 5, -1, 2, 3, 4, 5, 5, 5, 5])
  }

  /// A tensor index after other entries must write into `self`, not into a temporary copy.
  @Test func subscriptAssignmentWithATensorIndexAfterOtherEntries() {
    let x = Tensor.zeros([2, 4])
    x[.all, Tensor([true, false, true, false])] = Tensor(scalar: Float(1))
    #expect(x.toArray(Float.self) == [1, 0, 1, 0, 1, 0, 1, 0])
    x[1, Tensor([3, 1] as [Int])] = Tensor([8, 6] as [Float])
    #expect(x.toArray(Float.self) == [1, 0, 1, 0, 1, 6, 1, 8])
    x[0..<1, Tensor([0] as [Int])] = Tensor(scalar: Float(-2))
    #expect(x.toArray(Float.self) == [-2, 0, 1, 0, 1, 6, 1, 8])
  }

  @Test func tensorSubscripts() {
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [3, 2])
    // Boolean masks keep the true positions.
    expectValues(m[Tensor([true, false, true])], [1, 2, 5, 6], shape: [2, 2])
    expectValues(m[m .> 3], [4, 5, 6], shape: [3])
    expectValues(m[.all, Tensor([false, true])], [2, 4, 6], shape: [3, 1])
    // Integer tensors gather, repeats allowed, and their shape replaces the indexed dimension.
    expectValues(m[Tensor([2, 0, 2] as [Int])], [5, 6, 1, 2, 5, 6], shape: [3, 2])
    expectValues(m[Tensor([1, 0] as [Int], shape: [2, 1])], [3, 4, 1, 2], shape: [2, 1, 2])
    expectValues(m[.all, Tensor([1, 1] as [Int])], [2, 2, 4, 4, 6, 6], shape: [3, 2])
    expectValues(m.indexed(by: Tensor([1] as [Int]), axis: 1), [2, 4, 6], shape: [3, 1])
    // Tensor indexing copies.
    #expect(!m[Tensor([0] as [Int])].sharesStorage(with: m))
  }

  /// Several tensor entries broadcast together and pick elements jointly, as in PyTorch.
  @Test func severalTensorEntriesPickJointly() {
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [3, 2])
    // The score of each row's label: m[0][1], m[2][0], m[1][1].
    expectValues(m[Tensor([0, 2, 1] as [Int]), Tensor([1, 0, 1] as [Int])], [2, 5, 4], shape: [3])
    // Index tensors broadcast: a column of rows against a row of columns gives the block.
    expectValues(
      m[Tensor([0, 2] as [Int], shape: [2, 1]), Tensor([1, 0] as [Int], shape: [1, 2])], [2, 1, 6, 5], shape: [2, 2])
    // An integer after a tensor entry selects first.
    expectValues(m[Tensor([2, 0] as [Int]), 1], [6, 2], shape: [2])
    // Separated by a slice, the picked dimension comes first (PyTorch's rule).
    let picked = cube[Tensor([0, 1] as [Int]), .all, Tensor([3, 0] as [Int])]
    #expect(picked.shape == [2, 3])
    #expect(picked.toArray(Int.self) == [3, 7, 11, 12, 16, 20])
    // A 2-D mask after an ellipsis covers the last two dimensions.
    let mask = Tensor.arange(12).reshaped([3, 4]) % 5 .== 0  // positions 0, 5, 10
    let masked = cube[.ellipsis, mask]
    #expect(masked.shape == [2, 3])
    #expect(masked.toArray(Int.self) == [0, 5, 10, 12, 17, 22])
    // Assignment picks the same elements.
    let x = Tensor.zeros([3, 3])
    x[Tensor([0, 1, 2] as [Int]), Tensor([2, 1, 0] as [Int])] = Tensor([1, 2, 3] as [Float])
    #expect(x.toArray(Float.self) == [0, 0, 1, 0, 2, 0, 3, 0, 0])
    // A number of another kind is converted, as copy(from:) does.
    x[x .> 1.5] = Tensor(scalar: 9)
    #expect(x.toArray(Float.self) == [0, 0, 1, 0, 9, 0, 9, 0, 0])
  }

  @Test func slicingAndSelecting() {
    #expect(cube.sliced(axis: 2, 1..<4, step: 2).toArray(Int.self) == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23])
    #expect(cube.selecting(index: 1, axis: 1).toArray(Int.self) == [4, 5, 6, 7, 16, 17, 18, 19])
    #expect(cube.selecting(index: -1, axis: 2).toArray(Int.self) == [3, 7, 11, 15, 19, 23])
  }

  @Test func indexSelect() {
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    expectValues(m.gathering(Tensor([2, 0] as [Int]), axis: 1), [3, 1, 6, 4], shape: [2, 2])
    expectValues(m.gathering(Tensor([1, 1, 0] as [Int])), [4, 5, 6, 4, 5, 6, 1, 2, 3], shape: [3, 3])
    expectValues(m.gathering(Tensor([1] as [Int32]), axis: -1), [2, 5], shape: [2, 1])
  }

  @Test func gatherAndScatter() {
    let m = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
    let idx = Tensor([2, 2, 0, 1, 0, 1] as [Int], shape: [2, 3])
    // out[i][j] = m[i][idx[i][j]]
    expectValues(m.gather(axis: 1, indices: idx), [3, 3, 1, 5, 4, 5], shape: [2, 3])
    // out[i][j] = m[idx[i][j]][j], with a smaller index tensor.
    let rows = Tensor([1, 0] as [Int], shape: [1, 2])
    expectValues(m.gather(axis: 0, indices: rows), [4, 2], shape: [1, 2])

    let zeros = Tensor.zeros([2, 4])
    let src = Tensor([10, 20, 30, 40, 50, 60] as [Float], shape: [2, 3])
    let where3 = Tensor([3, 0, 1, 2, 3, 0] as [Int], shape: [2, 3])
    // out[i][where3[i][j]] = src[i][j]
    expectValues(zeros.scattering(axis: 1, indices: where3, source: src), [20, 30, 0, 10, 60, 0, 40, 50])
    // scatter_add sums repeated positions: row 0 adds 10 and 20 into column 1, row 1 adds 40 and 50
    // into column 2.
    let repeats = Tensor([1, 1, 3, 2, 2, 0] as [Int], shape: [2, 3])
    expectValues(zeros.scatteringAdd(axis: 1, indices: repeats, source: src), [0, 30, 0, 30, 60, 0, 90, 0])
    // The input is not changed.
    #expect(zeros.sum().doubleValue() == 0)
  }

  @Test func maskedOperations() {
    let x = Tensor([1, -2, 3, -4] as [Float], shape: [2, 2])
    let negative = x .< 0
    expectValues(x.masked(by: negative), [-2, -4], shape: [2])
    // Masks broadcast.
    expectValues(x.masked(by: Tensor([true, false])), [1, 3])
    expectValues(x.filling(where: negative, with: 0), [1, 0, 3, 0])
    expectValues(x, [1, -2, 3, -4])  // unchanged
    x.fill(where: negative, with: 9)
    expectValues(x, [1, 9, 3, 9])
  }

  @Test func nonzero() {
    let x = Tensor([0, 3, 0, 0, 0, 7] as [Float], shape: [2, 3])
    let n = x.nonzeroIndices()
    #expect(n.shape == [2, 2])
    #expect(n.dtype == .int64)
    #expect(n.toArray(Int.self) == [0, 1, 1, 2])
    #expect(Tensor.zeros([4]).nonzeroIndices().shape == [0, 1])
  }

  @Test func putWithAccumulate() {
    let x = Tensor.zeros([4])
    x.put(Tensor([1, 2, 3] as [Float]), at: Tensor([0, 2, 0] as [Int]), accumulate: true)
    expectValues(x, [4, 0, 2, 0])
    x.put(Tensor(scalar: Float(-1)), at: Tensor([false, true, false, true]))
    expectValues(x, [4, -1, 2, -1])
    let m = Tensor.zeros([2, 3])
    m.put(Tensor([5, 6] as [Float], shape: [2, 1]), at: Tensor([1] as [Int]), axis: 1)
    expectValues(m, [0, 5, 0, 0, 6, 0])
  }

  @Test func topK() {
    let x = Tensor([3, 9, 1, 7, 5, 2, 8, 6] as [Float], shape: [2, 4])
    let (values, indices) = x.topK(2)
    expectValues(values, [9, 7, 8, 6], shape: [2, 2])
    #expect(indices.toArray(Int.self) == [1, 3, 2, 3])
    let smallest = x.topK(3, axis: 1, largest: false)
    expectValues(smallest.values, [1, 3, 7, 2, 5, 6])
    #expect(smallest.indices.toArray(Int.self) == [2, 0, 3, 1, 0, 3])
    let down = x.topK(1, axis: 0)
    expectValues(down.values, [5, 9, 8, 7], shape: [1, 4])
    #expect(down.indices.toArray(Int.self) == [1, 0, 1, 0])
  }

  @Test func sortAndArgsort() {
    let x = Tensor([3, 1, 2, 1, 3, 0] as [Float])
    let (up, order) = x.sorted(stable: true)
    expectValues(up, [0, 1, 1, 2, 3, 3])
    #expect(order.toArray(Int.self) == [5, 1, 3, 2, 0, 4])  // ties keep their order
    let (down, downOrder) = x.sorted(descending: true, stable: true)
    expectValues(down, [3, 3, 2, 1, 1, 0])
    #expect(downOrder.toArray(Int.self) == [0, 4, 2, 1, 3, 5])
    let m = Tensor([5, 4, 6, 1, 3, 2] as [Int], shape: [2, 3])
    #expect(m.argsort(axis: 1).toArray(Int.self) == [1, 0, 2, 0, 2, 1])
    #expect(m.argsort(axis: 0).toArray(Int.self) == [1, 1, 1, 0, 0, 0])
    #expect(m.sorted(axis: 0).values.toArray(Int.self) == [1, 3, 2, 5, 4, 6])
  }

  @Test func unique() {
    let (values, counts) = Tensor([3, 1, 3, 2, 3, 1] as [Int]).unique()
    #expect(values.toArray(Int.self) == [1, 2, 3])
    #expect(counts.toArray(Int.self) == [2, 1, 3])
  }
}
