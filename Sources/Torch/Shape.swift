import CTorch

extension Tensor {
  /// The same elements in `shape`; one entry may be -1 to be inferred. A view when possible.
  public func reshaped(_ shape: [Int]) -> Tensor {
    let s = shape.map(Int64.init)
    return Tensor.make("reshaped(\(shape))") { ct_reshape(handle, s, Int64(s.count), $0) }
  }

  public func reshaped(_ shape: Int...) -> Tensor { reshaped(shape) }

  /// A view with `shape` sharing memory; fails where the strides do not allow one (use `reshaped`).
  public func viewed(as shape: [Int]) -> Tensor {
    let s = shape.map(Int64.init)
    return Tensor.make("viewed(as: \(shape))") { ct_view(handle, s, Int64(s.count), $0) }
  }

  /// Dimensions reordered: result dimension i is input dimension `axes[i]`.
  public func permuted(_ axes: [Int]) -> Tensor {
    let d = axes.map(Int64.init)
    return Tensor.make("permuted(\(axes))") { ct_permute(handle, d, Int64(d.count), $0) }
  }

  public func permuted(_ axes: Int...) -> Tensor { permuted(axes) }

  /// Dimensions `a` and `b` swapped.
  public func transposed(_ a: Int, _ b: Int) -> Tensor {
    Tensor.make("transposed") { ct_transpose(handle, Int64(a), Int64(b), $0) }
  }

  /// The matrix transpose of a 2-D tensor.
  public var T: Tensor { transposed(0, 1) }

  /// Size-1 dimensions removed: only `axis` when given, all of them otherwise.
  public func squeezed(axis: Int? = nil) -> Tensor {
    Tensor.make("squeezed") { ct_squeeze(handle, axis == nil ? 0 : 1, Int64(axis ?? 0), $0) }
  }

  /// A size-1 dimension inserted at `axis`.
  public func unsqueezed(axis: Int) -> Tensor {
    Tensor.make("unsqueezed") { ct_unsqueeze(handle, Int64(axis), $0) }
  }

  /// Dimensions `start...end` merged into one.
  public func flattened(from start: Int = 0, to end: Int = -1) -> Tensor {
    Tensor.make("flattened") { ct_flatten(handle, Int64(start), Int64(end), $0) }
  }

  /// Size-1 dimensions broadcast to `shape` without copying (-1 keeps a size).
  public func expanded(to shape: [Int]) -> Tensor {
    let s = shape.map(Int64.init)
    return Tensor.make("expanded(to: \(shape))") { ct_expand(handle, s, Int64(s.count), $0) }
  }

  /// Broadcast to the shape of `other`.
  public func expanded(as other: Tensor) -> Tensor { expanded(to: other.shape) }

  /// The tensor tiled `counts[i]` times along dimension i.
  public func repeated(_ counts: [Int]) -> Tensor {
    let r = counts.map(Int64.init)
    return Tensor.make("repeated") { ct_repeat(handle, r, Int64(r.count), $0) }
  }

  /// Elements reversed along `axes`.
  public func flipped(axes: [Int]) -> Tensor {
    let d = axes.map(Int64.init)
    return Tensor.make("flipped") { ct_flip(handle, d, Int64(d.count), $0) }
  }

  /// Pieces of the given sizes along `axis`.
  public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
    let s = sizes.map(Int64.init)
    return collect("split", capacity: sizes.count) { outs, cap, count in
      ct_split(handle, s, Int64(s.count), Int64(axis), outs, cap, count)
    }
  }

  /// Pieces of `size` elements along `axis` (the last may be smaller).
  public func split(size: Int, axis: Int = 0) -> [Tensor] {
    precondition(size > 0, "split(size:) needs a positive size")
    let total = self.size(axis)
    var sizes = [Int](repeating: size, count: total / size)
    if total % size != 0 { sizes.append(total % size) }
    return split(sizes: sizes, axis: axis)
  }

  /// `count` nearly equal pieces along `axis`, as PyTorch's `chunk`.
  public func chunked(_ count: Int, axis: Int = 0) -> [Tensor] {
    collect("chunked", capacity: count) { outs, cap, n in ct_chunk(handle, Int64(count), Int64(axis), outs, cap, n) }
  }

  /// The tensors along `axis` (the inverse of `stacked`).
  public func unstacked(axis: Int = 0) -> [Tensor] {
    (0..<size(axis)).map { self.selecting(index: $0, axis: axis) }
  }

  private func collect(
    _ name: String, capacity: Int,
    _ body: (UnsafeMutablePointer<OpaquePointer?>, Int64, UnsafeMutablePointer<Int64>) -> Int32
  ) -> [Tensor] {
    var outs = [OpaquePointer?](repeating: nil, count: Swift.max(capacity, 1))
    var count: Int64 = 0
    guard check(name, body(&outs, Int64(outs.count), &count)) else { return [] }
    precondition(Int(count) <= outs.count, "\(name): libtorch returned more pieces than expected")
    return outs.prefix(Int(count)).map { Tensor(handle: $0!) }
  }

  /// Zero or constant padding of the last dimensions; `padding` lists (before, after) pairs
  /// starting with the last dimension, as `torch.nn.functional.pad`.
  public func padded(_ padding: [Int], mode: PaddingMode = .constant, value: Double = 0) -> Tensor {
    let p = padding.map(Int64.init)
    return Tensor.make("padded") { ct_pad(handle, p, Int64(p.count), mode.rawValue, value, $0) }
  }

  /// Lower-triangular part (elements above diagonal `k` zeroed).
  public func lowerTriangle(diagonal k: Int = 0) -> Tensor { Tensor.make("lowerTriangle") { ct_tril(handle, Int64(k), 0, $0) } }
  /// Upper-triangular part (elements below diagonal `k` zeroed).
  public func upperTriangle(diagonal k: Int = 0) -> Tensor { Tensor.make("upperTriangle") { ct_tril(handle, Int64(k), 1, $0) } }

  /// Joins tensors of equal shape except along `axis`.
  public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    withExtendedLifetime(tensors) {
      let handles: [OpaquePointer?] = tensors.map { $0.handle }
      return make("concatenate") { ct_cat(handles, Int64(handles.count), Int64(axis), $0) }
    }
  }

  /// Stacks tensors of equal shape along a new dimension `axis`.
  public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    withExtendedLifetime(tensors) {
      let handles: [OpaquePointer?] = tensors.map { $0.handle }
      return make("stack") { ct_stack(handles, Int64(handles.count), Int64(axis), $0) }
    }
  }

  /// Coordinate grids for 1-D tensors with "ij" indexing: result i varies along dimension i.
  public static func meshgrid(_ tensors: [Tensor]) -> [Tensor] {
    var outs = [OpaquePointer?](repeating: nil, count: tensors.count)
    let ok = withExtendedLifetime(tensors) {
      let handles: [OpaquePointer?] = tensors.map { $0.handle }
      return check("meshgrid", ct_meshgrid(handles, Int64(handles.count), &outs))
    }
    return ok ? outs.map { Tensor(handle: $0!) } : tensors.map { _ in placeholder() }
  }
}

/// How `padded` fills the border.
public enum PaddingMode: Int32, Sendable {
  case constant = 0
  case reflect = 1
  case replicate = 2
}
