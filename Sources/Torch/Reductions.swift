import CTorch

extension Tensor {
  private enum Reduction: Int32 {
    case sum, mean, prod, amax, amin, all, any, std, variance, norm2, logSumExp, countNonzero
  }

  private func reduce(_ op: Reduction, _ axes: [Int]?, _ keep: Bool) -> Tensor {
    let dims = (axes ?? []).map(Int64.init)
    let n = axes == nil ? Int64(-1) : Int64(dims.count)
    return Tensor.make(String(describing: op)) { ct_reduce(op.rawValue, handle, dims, n, keep ? 1 : 0, $0) }
  }

  /// Sum over `axes`, or over everything when `axes` is nil.
  public func sum(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.sum, axes, keep) }
  public func sum(axis: Int, keepingDimensions keep: Bool = false) -> Tensor { reduce(.sum, [axis], keep) }
  public func mean(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.mean, axes, keep) }
  public func mean(axis: Int, keepingDimensions keep: Bool = false) -> Tensor { reduce(.mean, [axis], keep) }
  public func product(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
    reduce(.prod, axes, keep)
  }
  /// Largest element over `axes` (PyTorch `amax`).
  public func max(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.amax, axes, keep) }
  /// Smallest element over `axes` (PyTorch `amin`).
  public func min(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.amin, axes, keep) }
  /// Whether every element is true (non-zero).
  public func all(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.all, axes, keep) }
  /// Whether any element is true (non-zero).
  public func any(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor { reduce(.any, axes, keep) }
  /// Sample standard deviation (Bessel-corrected, as PyTorch's default).
  public func standardDeviation(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
    reduce(.std, axes, keep)
  }
  /// Sample variance (Bessel-corrected).
  public func variance(axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
    reduce(.variance, axes, keep)
  }
  /// `log(sum(exp(x)))` computed stably.
  public func logSumExp(axes: [Int], keepingDimensions keep: Bool = false) -> Tensor {
    reduce(.logSumExp, axes, keep)
  }
  /// The number of non-zero elements over `axes`.
  public func countNonzero(axes: [Int]? = nil) -> Tensor { reduce(.countNonzero, axes, false) }

  /// The p-norm over `axes` (all elements when nil).
  public func norm(_ p: Double = 2, axes: [Int]? = nil, keepingDimensions keep: Bool = false) -> Tensor {
    let dims = (axes ?? []).map(Int64.init)
    let n = axes == nil ? Int64(-1) : Int64(dims.count)
    return Tensor.make("norm") { ct_norm(handle, p, dims, n, keep ? 1 : 0, $0) }
  }

  private func reduceAlong(_ op: Int32, _ name: String, _ axis: Int, _ keep: Bool) -> (Tensor, Tensor) {
    Tensor.makePair(name) { ct_reduce_dim(op, handle, Int64(axis), keep ? 1 : 0, $0, $1) }
  }

  /// Largest values along `axis` and where they are.
  public func max(axis: Int, keepingDimensions keep: Bool = false) -> (values: Tensor, indices: Tensor) {
    reduceAlong(0, "max(axis:)", axis, keep)
  }
  /// Smallest values along `axis` and where they are.
  public func min(axis: Int, keepingDimensions keep: Bool = false) -> (values: Tensor, indices: Tensor) {
    reduceAlong(1, "min(axis:)", axis, keep)
  }
  /// Median values along `axis` (the lower of the two middle ones for even counts) and their indices.
  public func median(axis: Int, keepingDimensions keep: Bool = false) -> (values: Tensor, indices: Tensor) {
    reduceAlong(4, "median(axis:)", axis, keep)
  }

  private func singleAlong(_ op: Int32, _ name: String, _ axis: Int, _ keep: Bool) -> Tensor {
    Tensor.make(name) { ct_reduce_dim(op, handle, Int64(axis), keep ? 1 : 0, $0, nil) }
  }

  public func argmax(axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
    singleAlong(2, "argmax", axis, keep)
  }
  public func argmin(axis: Int, keepingDimensions keep: Bool = false) -> Tensor {
    singleAlong(3, "argmin", axis, keep)
  }
  /// Running sum along `axis`.
  public func cumulativeSum(axis: Int) -> Tensor { singleAlong(5, "cumulativeSum", axis, false) }
  /// Running product along `axis`.
  public func cumulativeProduct(axis: Int) -> Tensor { singleAlong(6, "cumulativeProduct", axis, false) }
}
