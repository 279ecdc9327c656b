import CTorch

/// One entry of a subscript: `t[0]`, `t[1..<3]`, `t[.all, 2]`, `t[mask]`, `t[.ellipsis, 0]`,
/// `t[.stride(from: 0, by: 2)]`.
public enum TensorIndex {
  /// One position; the dimension is removed.
  case index(Int)
  /// Positions `start..<end` stepping by `step`; negative bounds count from the end, nil means
  /// the start or end of the dimension.
  case range(start: Int?, end: Int?, step: Int)
  /// Every position of the dimension (Python's `:`).
  case fullSlice
  /// A new dimension of size 1 (Python's `None`).
  case insertedAxis
  /// As many full slices as needed to reach the entries that follow (Python's `...`).
  case remainingAxes
  /// A bool tensor (keeps the true positions) or an integer tensor (gathers those positions).
  case tensor(Tensor)
}

/// Values usable inside a tensor subscript.
public protocol TensorIndexConvertible {
  var tensorIndex: TensorIndex { get }
}

// Short spellings inside subscripts: `t[.all, .newAxis]`, `t[.ellipsis, 0]`.
extension TensorIndexConvertible where Self == TensorIndex {
  /// Every position of a dimension (Python's `:`).
  public static var all: TensorIndex { .fullSlice }
  /// A new dimension of size 1 (Python's `None`).
  public static var newAxis: TensorIndex { .insertedAxis }
  /// The dimensions not named by the other entries (Python's `...`).
  public static var ellipsis: TensorIndex { .remainingAxes }
  /// Positions from `start` to `end` (exclusive) stepping by `step` (Python's `start:end:step`).
  public static func stride(from start: Int? = nil, to end: Int? = nil, by step: Int) -> TensorIndex {
    .range(start: start, end: end, step: step)
  }
}

extension TensorIndex: TensorIndexConvertible { public var tensorIndex: TensorIndex { self } }
extension Int: TensorIndexConvertible { public var tensorIndex: TensorIndex { .index(self) } }
extension Range<Int>: TensorIndexConvertible {
  public var tensorIndex: TensorIndex { .range(start: lowerBound, end: upperBound, step: 1) }
}
extension ClosedRange<Int>: TensorIndexConvertible {
  public var tensorIndex: TensorIndex { .range(start: lowerBound, end: upperBound + 1, step: 1) }
}
extension PartialRangeFrom<Int>: TensorIndexConvertible {
  public var tensorIndex: TensorIndex { .range(start: lowerBound, end: nil, step: 1) }
}
extension PartialRangeUpTo<Int>: TensorIndexConvertible {
  public var tensorIndex: TensorIndex { .range(start: nil, end: upperBound, step: 1) }
}
extension PartialRangeThrough<Int>: TensorIndexConvertible {
  public var tensorIndex: TensorIndex { .range(start: nil, end: upperBound + 1, step: 1) }
}
extension Tensor: TensorIndexConvertible { public var tensorIndex: TensorIndex { .tensor(self) } }

extension Tensor {
  /// NumPy-style indexing. Integer and range entries give views; tensor entries give copies, and
  /// several tensor entries pick elements jointly as in PyTorch: `scores[rows, labels]` is the
  /// score of each row's label. Assigning through any subscript writes into `self`.
  public subscript(_ indices: any TensorIndexConvertible...) -> Tensor {
    get { indexed(indices.map(\.tensorIndex)) }
    set { assign(newValue, at: indices.map(\.tensorIndex)) }
  }

  /// The elements along `axis` in `range`, stepping by `step` (a view).
  public func sliced(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
    Tensor.make("sliced") {
      ct_slice(handle, Int64(axis), Int64(range.lowerBound), Int64(range.upperBound), Int64(step), $0)
    }
  }

  /// The sub-tensor at `index` along `axis`, with that dimension removed (a view).
  public func selecting(index: Int, axis: Int = 0) -> Tensor {
    Tensor.make("selecting") { ct_select(handle, Int64(axis), Int64(index), $0) }
  }

  /// Entries at integer `indices` along `axis`, as PyTorch's `index_select`.
  public func gathering(_ indices: Tensor, axis: Int = 0) -> Tensor {
    Tensor.make("gathering") { ct_index_select(handle, Int64(axis), indices.handle, $0) }
  }

  /// PyTorch's `gather`: `out[i][j] = self[i][indices[i][j]]` for `axis` 1, and so on.
  public func gather(axis: Int, indices: Tensor) -> Tensor {
    Tensor.make("gather") { ct_gather(handle, Int64(axis), indices.handle, $0) }
  }

  /// PyTorch's `scatter`: a copy with `source` written at `indices` along `axis`.
  public func scattering(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
    Tensor.make("scattering") { ct_scatter(handle, Int64(axis), indices.handle, source.handle, 0, $0) }
  }

  /// PyTorch's `scatter_add`: a copy with `source` added at `indices` along `axis`.
  public func scatteringAdd(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
    Tensor.make("scatteringAdd") { ct_scatter(handle, Int64(axis), indices.handle, source.handle, 1, $0) }
  }

  /// The elements where `mask` is true, as a 1-D tensor.
  public func masked(by mask: Tensor) -> Tensor {
    Tensor.make("masked(by:)") { ct_masked_select(handle, mask.handle, $0) }
  }

  /// A copy with the elements where `mask` is true set to `value`.
  public func filling(where mask: Tensor, with value: some ScalarConvertible) -> Tensor {
    Tensor.make("filling(where:with:)") { ct_masked_fill(handle, mask.handle, value.scalar.c, $0) }
  }

  /// The coordinates of the non-zero elements, one row per element (`[count, rank]`, int64).
  public func nonzeroIndices() -> Tensor { Tensor.make("nonzeroIndices") { ct_nonzero(handle, $0) } }

  /// Entries selected by a bool mask or integer indices applied at dimension `axis`.
  public func indexed(by index: Tensor, axis: Int = 0) -> Tensor {
    Tensor.make("indexed(by:)") { ct_index(handle, Int64(axis), index.handle, $0) }
  }

  /// Writes `values` at the positions `index` selects along `axis` (or adds them with `accumulate`,
  /// summing repeated indices).
  public func put(_ values: Tensor, at index: Tensor, axis: Int = 0, accumulate: Bool = false) {
    check("put(_:at:)", ct_index_put_(handle, Int64(axis), index.handle, values.handle, accumulate ? 1 : 0))
  }

  /// The `k` largest (or smallest) entries along `axis` and their indices.
  public func topK(_ k: Int, axis: Int = -1, largest: Bool = true, sorted: Bool = true) -> (
    values: Tensor, indices: Tensor
  ) {
    Tensor.makePair("topK") { ct_topk(handle, Int64(k), Int64(axis), largest ? 1 : 0, sorted ? 1 : 0, $0, $1) }
  }

  /// Entries sorted along `axis` and the permutation that sorts them. `stable` keeps ties in order.
  public func sorted(axis: Int = -1, descending: Bool = false, stable: Bool = false) -> (
    values: Tensor, indices: Tensor
  ) {
    Tensor.makePair("sorted") { ct_sort(handle, Int64(axis), descending ? 1 : 0, stable ? 1 : 0, $0, $1) }
  }

  /// The permutation that sorts the entries along `axis`.
  public func argsort(axis: Int = -1, descending: Bool = false, stable: Bool = false) -> Tensor {
    sorted(axis: axis, descending: descending, stable: stable).indices
  }

  /// The distinct elements in ascending order, with how often each occurs.
  public func unique() -> (values: Tensor, counts: Tensor) {
    Tensor.makePair("unique") { values, counts in
      ct_unique(handle, 1, 0, 1, values, nil, counts)
    }
  }

  // MARK: Subscript machinery

  // A subscript is applied as PyTorch applies one: integer, range, new-axis and ellipsis entries
  // first, each giving a view; then all tensor entries together through one advanced index, so
  // several index tensors broadcast and pick elements jointly (`t[rows, cols]` gives pairs, not
  // the rows × cols block), and an assignment writes into `self` wherever its tensor entries are.

  /// The view left by a subscript's basic entries, and its tensor entries with the view dimension
  /// each one starts at.
  private func basicIndexed(_ indices: [TensorIndex]) -> (view: Tensor, tensors: [(axis: Int, index: Tensor)]) {
    // Input dimensions an entry consumes: a bool mask consumes as many as it has.
    func consumed(_ entry: TensorIndex) -> Int {
      switch entry {
      case .insertedAxis, .remainingAxes: 0
      case .tensor(let t): t.dtype == .bool ? t.rank : 1
      default: 1
      }
    }
    var result = self
    var tensors: [(axis: Int, index: Tensor)] = []
    var axis = 0
    for (position, entry) in indices.enumerated() {
      switch entry {
      case .index(let i):
        result = result.selecting(index: i, axis: axis)
      case .range(let start, let end, let step):
        result = result.sliced(axis: axis, Self.bounds(start, end, result.size(axis)), step: step)
        axis += 1
      case .fullSlice:
        axis += 1
      case .insertedAxis:
        result = result.unsqueezed(axis: axis)
        axis += 1
      case .remainingAxes:
        let after = indices[(position + 1)...].reduce(0) { $0 + consumed($1) }
        axis = Swift.max(axis, result.rank - after)
      case .tensor(let t):
        tensors.append((axis, t))
        axis += consumed(entry)
      }
    }
    return (result, tensors)
  }

  /// The index list for libtorch: nil (a full slice) for each dimension before a tensor entry.
  private static func advancedIndexList(_ tensors: [(axis: Int, index: Tensor)]) -> [OpaquePointer?] {
    var list: [OpaquePointer?] = []
    var dimension = 0
    for (axis, index) in tensors {
      list += [OpaquePointer?](repeating: nil, count: Swift.max(axis - dimension, 0))
      list.append(index.handle)
      dimension = axis + (index.dtype == .bool ? index.rank : 1)
    }
    return list
  }

  private func indexed(_ indices: [TensorIndex]) -> Tensor {
    let (view, tensors) = basicIndexed(indices)
    if tensors.isEmpty { return view }
    return withExtendedLifetime(tensors) {
      let list = Self.advancedIndexList(tensors)
      return Tensor.make("subscript") { ct_index_tensors(view.handle, list, Int64(list.count), $0) }
    }
  }

  private func assign(_ value: Tensor, at indices: [TensorIndex]) {
    let (view, tensors) = basicIndexed(indices)
    if tensors.isEmpty {
      view.copy(from: value)
      return
    }
    // index_put wants the destination's dtype; copy(from:) converts, so this does too.
    let values = value.dtype == view.dtype ? value : value.to(view.dtype)
    withExtendedLifetime(tensors) {
      let list = Self.advancedIndexList(tensors)
      _ = check("subscript assignment", ct_index_put_tensors_(view.handle, list, Int64(list.count), values.handle, 0))
    }
  }

  static func bounds(_ start: Int?, _ end: Int?, _ size: Int) -> Range<Int> {
    func clampIndex(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + size : v, 0), size) }
    let lo = clampIndex(start ?? 0)
    let hi = clampIndex(end ?? size)
    return lo..<Swift.max(lo, hi)
  }
}
