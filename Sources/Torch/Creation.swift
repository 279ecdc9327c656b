import CTorch
import Foundation

extension Tensor {
  /// A tensor of `shape` filled with `value`.
  public convenience init(
    repeating value: some ScalarConvertible, shape: [Int], dtype: DType = .float32, device: Device = .cpu
  ) {
    let t = Tensor.full(shape, value: value, dtype: dtype, device: device)
    self.init(stealing: t)
  }

  /// A tensor holding `values` laid out row-major in `shape` (a 1-D tensor when `shape` is nil).
  public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil, device: Device = .cpu) {
    let shape = shape ?? [values.count]
    precondition(
      shape.reduce(1, *) == values.count,
      "Tensor(_:shape:): \(values.count) values do not fill shape \(shape)")
    let host: Tensor
    if T.self == Int.self {
      // Int is stored as 64-bit; copy through Int64 so the byte layout is explicit.
      host = Tensor.fromBytes(values.map { Int64($0 as! Int) }, shape: shape, dtype: .int64)
    } else if T.self == Bool.self {
      host = Tensor.fromBytes(values.map { ($0 as! Bool) ? UInt8(1) : 0 }, shape: shape, dtype: .bool)
    } else {
      host = Tensor.fromBytes(values, shape: shape, dtype: T.dtype)
    }
    self.init(stealing: device == .cpu ? host : host.to(device))
  }

  /// A 0-dimensional tensor holding one number.
  public convenience init<T: TensorElement>(scalar value: T, device: Device = .cpu) {
    self.init([value], shape: [], device: device)
  }

  /// A tensor copied from raw little-endian bytes of `dtype`, laid out row-major in `shape`.
  /// This is how checkpoint readers build tensors of types Swift has no element type for (bfloat16).
  public convenience init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) {
    let shape64 = shape.map(Int64.init)
    let t = Tensor.make("Tensor(bytes:)") { out in
      ct_from_data(bytes.baseAddress, bytes.count, shape64, Int64(shape64.count), dtype.rawValue, out)
    }
    self.init(stealing: t)
  }

  /// Takes over another tensor's libtorch handle by aliasing it (no copy of the data).
  convenience init(stealing other: Tensor) {
    var out: OpaquePointer?
    _ = ct_alias(other.handle, &out)
    self.init(handle: out!)
  }

  static func fromBytes<T>(_ values: [T], shape: [Int], dtype: DType) -> Tensor {
    let shape64 = shape.map(Int64.init)
    return values.withUnsafeBytes { raw in
      Tensor.make("Tensor(_:shape:)") { out in
        ct_from_data(raw.baseAddress, raw.count, shape64, Int64(shape64.count), dtype.rawValue, out)
      }
    }
  }

  // MARK: Factories

  public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
    full(shape, value: 0, dtype: dtype, device: device)
  }

  public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
    full(shape, value: 1, dtype: dtype, device: device)
  }

  public static func full(
    _ shape: [Int], value: some ScalarConvertible, dtype: DType = .float32, device: Device = .cpu
  ) -> Tensor {
    let shape64 = shape.map(Int64.init)
    let (type, index) = device.code
    return make("full") {
      ct_full(shape64, Int64(shape64.count), value.scalar.c, dtype.rawValue, type, index, $0)
    }
  }

  /// Uninitialised memory of `shape`; every element must be written before it is read.
  public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
    let shape64 = shape.map(Int64.init)
    let (type, index) = device.code
    return make("empty") { ct_empty(shape64, Int64(shape64.count), dtype.rawValue, type, index, $0) }
  }

  /// Values from `start` up to but excluding `end` in steps of `step`. Without a `dtype` the result
  /// is float32 when any bound or the step is a floating-point number and int64 otherwise, as in
  /// `torch.arange` (an int64 default would turn `arange(0, 1, step: 0.25)` into zeros).
  public static func arange(
    _ start: some ScalarConvertible, _ end: some ScalarConvertible, step: some ScalarConvertible = 1,
    dtype: DType? = nil, device: Device = .cpu
  ) -> Tensor {
    let bounds = [start.scalar, end.scalar, step.scalar]
    let isFloat = bounds.contains { if case .float = $0 { true } else { false } }
    let dtype = dtype ?? (isFloat ? .float32 : .int64)
    let (type, index) = device.code
    return make("arange") { ct_arange(start.scalar.c, end.scalar.c, step.scalar.c, dtype.rawValue, type, index, $0) }
  }

  /// `0, 1, ..., end - 1`.
  public static func arange(_ end: Int, dtype: DType = .int64, device: Device = .cpu) -> Tensor {
    arange(0, end, step: 1, dtype: dtype, device: device)
  }

  /// `count` evenly spaced values from `start` to `end`, both included.
  public static func linspace(
    _ start: Double, _ end: Double, count: Int, dtype: DType = .float32, device: Device = .cpu
  ) -> Tensor {
    let (type, index) = device.code
    return make("linspace") { ct_linspace(start, end, Int64(count), dtype.rawValue, type, index, $0) }
  }

  /// The `n`×`n` identity matrix.
  public static func eye(_ n: Int, dtype: DType = .float32, device: Device = .cpu) -> Tensor {
    let (type, index) = device.code
    return make("eye") { ct_eye(Int64(n), dtype.rawValue, type, index, $0) }
  }

  public func zerosLike() -> Tensor { Tensor.zeros(shape, dtype: dtype, device: device) }
  public func onesLike() -> Tensor { Tensor.ones(shape, dtype: dtype, device: device) }
  public func fullLike(_ value: some ScalarConvertible) -> Tensor {
    Tensor.full(shape, value: value, dtype: dtype, device: device)
  }

  // MARK: Reading back

  /// The elements, row-major, converted to `T` (a float32 tensor read as `[Float]`, say).
  public func toArray<T: TensorElement>(_ type: T.Type = T.self) -> [T] {
    let target: DType = T.self == Int.self ? .int64 : T.dtype
    let source = dtype == target ? self : self.to(target)
    let n = source.count
    if T.self == Bool.self {
      var bytes = [UInt8](repeating: 0, count: n)
      bytes.withUnsafeMutableBytes { raw in _ = check("toArray", ct_copy_to_host(source.handle, raw.baseAddress, raw.count)) }
      return bytes.map { ($0 != 0) as! T }
    }
    var values = [T](repeating: T.zero, count: n)
    values.withUnsafeMutableBytes { raw in
      _ = check("toArray", ct_copy_to_host(source.handle, raw.baseAddress, raw.count))
    }
    return values
  }

  /// The raw little-endian bytes of the elements, row-major, in the tensor's own dtype.
  public func bytes() -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count * dtype.byteSize)
    out.withUnsafeMutableBytes { raw in _ = check("bytes", ct_copy_to_host(handle, raw.baseAddress, raw.count)) }
    return out
  }

  /// The single element of a one-element tensor.
  public func item() -> Scalar {
    var out = ct_scalar()
    check("item", ct_item(handle, &out))
    return Scalar(out)
  }

  /// The single element as a `Double` (works for any dtype).
  public func doubleValue() -> Double { item().doubleValue }
  /// The single element as a `Float`.
  public func floatValue() -> Float { Float(item().doubleValue) }
  /// The single element as an `Int`.
  public func intValue() -> Int {
    switch item() {
    case .int(let v): Int(v)
    case .bool(let v): v ? 1 : 0
    case .float(let v): Int(v)
    }
  }
  /// The single element as a `Bool`.
  public func boolValue() -> Bool { item().doubleValue != 0 }
}
