import CTorch

/// An n-dimensional array on libtorch's engine, with autograd.
///
/// A `Tensor` owns one libtorch tensor and releases it when the last Swift reference goes away.
/// Tensors are references, as in PyTorch: views share memory with their base, and in-place
/// updates (`copy(from:)`, `fill(with:)`, optimizer steps) are seen through every reference.
public final class Tensor {
  /// The owned libtorch handle. It is read only inside `Tensor`'s own methods (or while the tensor
  /// is kept alive by being a parameter of the running function), never handed out.
  let handle: OpaquePointer

  init(handle: OpaquePointer) {
    self.handle = handle
  }

  deinit {
    ct_tensor_free(handle)
  }

  /// The placeholder returned by a failed operation inside `withTorchErrors`.
  static func placeholder() -> Tensor {
    var out: OpaquePointer?
    _ = ct_alias(nil, &out)
    return Tensor(handle: out!)
  }

  /// Wraps the result of a C call that fills one `ct_tensor` out-parameter.
  @inline(__always)
  static func make(_ operation: @autoclosure () -> String, _ body: (UnsafeMutablePointer<OpaquePointer?>) -> Int32)
    -> Tensor
  {
    var out: OpaquePointer?
    let status = body(&out)
    if status == 0, let out { return Tensor(handle: out) }
    reportFailure(operation())
    return placeholder()
  }

  /// Wraps a C call that fills two `ct_tensor` out-parameters (values and indices, say).
  static func makePair(
    _ operation: @autoclosure () -> String,
    _ body: (UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<OpaquePointer?>) -> Int32
  ) -> (Tensor, Tensor) {
    var a: OpaquePointer?
    var b: OpaquePointer?
    let status = body(&a, &b)
    if status == 0, let a, let b { return (Tensor(handle: a), Tensor(handle: b)) }
    if let a { ct_tensor_free(a) }
    if let b { ct_tensor_free(b) }
    reportFailure(operation())
    return (placeholder(), placeholder())
  }

  // MARK: Properties

  /// The size of each dimension.
  public var shape: [Int] {
    var sizes = [Int64](repeating: 0, count: 8)
    var rank: Int64 = 0
    guard check("shape", ct_sizes(handle, &sizes, 8, &rank)) else { return [] }
    if rank > 8 {
      sizes = [Int64](repeating: 0, count: Int(rank))
      guard check("shape", ct_sizes(handle, &sizes, rank, &rank)) else { return [] }
    }
    return sizes.prefix(Int(rank)).map { Int($0) }
  }

  /// The distance in elements between neighbours along each dimension.
  public var strides: [Int] {
    var values = [Int64](repeating: 0, count: 16)
    var rank: Int64 = 0
    guard check("strides", ct_strides(handle, &values, 16, &rank)) else { return [] }
    return values.prefix(Int(rank)).map { Int($0) }
  }

  /// The number of dimensions.
  public var rank: Int {
    var out: Int64 = 0
    check("rank", ct_dim(handle, &out))
    return Int(out)
  }

  /// The total number of elements.
  public var count: Int {
    var out: Int64 = 0
    check("count", ct_numel(handle, &out))
    return Int(out)
  }

  public var dtype: DType {
    var out: Int32 = 0
    check("dtype", ct_dtype_of(handle, &out))
    return DType(rawValue: out) ?? .float32
  }

  public var device: Device {
    var type: Int32 = 0
    var index: Int32 = 0
    check("device", ct_device_of(handle, &type, &index))
    return Device(type: type, index: index)
  }

  /// Whether the elements are laid out row-major without gaps.
  public var isContiguous: Bool {
    var out: Int32 = 0
    check("isContiguous", ct_is_contiguous(handle, 0, &out))
    return out != 0
  }

  /// Whether an NCHW tensor is stored channels-last (NHWC in memory).
  public var isChannelsLast: Bool {
    var out: Int32 = 0
    check("isChannelsLast", ct_is_contiguous(handle, 1, &out))
    return out != 0
  }

  /// Whether this tensor is a real result rather than the placeholder of a failed operation.
  public var isDefined: Bool { ct_tensor_defined(handle) != 0 }

  /// Whether `self` and `other` share memory (a view and its base, say).
  public func sharesStorage(with other: Tensor) -> Bool {
    var out: Int32 = 0
    check("sharesStorage", ct_same_storage(handle, other.handle, &out))
    return out != 0
  }

  /// The size of dimension `axis` (negative counts from the end). An axis out of range is a
  /// failure reported like libtorch's own (0 comes back inside `withTorchErrors`); the placeholder
  /// of a failed operation reads as empty, whatever the axis.
  public func size(_ axis: Int) -> Int {
    let s = shape
    let i = axis < 0 ? axis + s.count : axis
    guard s.indices.contains(i) else {
      // A placeholder's own failure is recorded already.
      if isDefined {
        reportFailure(
          "size(\(axis))",
          message: "Dimension out of range (expected to be in range of [\(-s.count), \(s.count - 1)], but got \(axis))")
      }
      return 0
    }
    return s[i]
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    var size = 0
    guard ct_to_string(handle, nil, 0, &size) == 0 else { return "Tensor(undefined)" }
    var buffer = [CChar](repeating: 0, count: size + 1)
    _ = ct_to_string(handle, &buffer, size + 1, &size)
    return String(decoding: buffer.prefix(size).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
