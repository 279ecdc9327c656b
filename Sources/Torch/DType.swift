import CTorch

/// The element type of a tensor.
public enum DType: Int32, CaseIterable, Sendable, CustomStringConvertible, Codable {
  case float32 = 0
  case float64 = 1
  case float16 = 2
  case bfloat16 = 3
  case int64 = 4
  case int32 = 5
  case int16 = 6
  case int8 = 7
  case uint8 = 8
  case bool = 9

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .float64, .int64: 8
    case .float32, .int32: 4
    case .float16, .bfloat16, .int16: 2
    case .int8, .uint8, .bool: 1
    }
  }

  public var isFloatingPoint: Bool {
    switch self {
    case .float32, .float64, .float16, .bfloat16: true
    default: false
    }
  }

  public var description: String {
    switch self {
    case .float32: "float32"
    case .float64: "float64"
    case .float16: "float16"
    case .bfloat16: "bfloat16"
    case .int64: "int64"
    case .int32: "int32"
    case .int16: "int16"
    case .int8: "int8"
    case .uint8: "uint8"
    case .bool: "bool"
    }
  }
}

/// Where a tensor's memory lives.
public enum Device: Equatable, Hashable, Sendable, CustomStringConvertible {
  case cpu
  case cuda(Int)

  var code: (type: Int32, index: Int32) {
    switch self {
    case .cpu: (Int32(CT_DEVICE_CPU.rawValue), 0)
    case .cuda(let index): (Int32(CT_DEVICE_CUDA.rawValue), Int32(index))
    }
  }

  init(type: Int32, index: Int32) {
    self = type == Int32(CT_DEVICE_CUDA.rawValue) ? .cuda(Int(index)) : .cpu
  }

  public var description: String {
    switch self {
    case .cpu: "cpu"
    case .cuda(let index): "cuda:\(index)"
    }
  }

  /// The number of CUDA devices libtorch can use (0 with the CPU-only link).
  public static var cudaDeviceCount: Int { Int(ct_cuda_device_count()) }
}

/// A number handed to a tensor operation. Integers stay integers, so `intTensor + 1` keeps its dtype.
public enum Scalar: Equatable, Sendable {
  case float(Double)
  case int(Int64)
  case bool(Bool)

  var c: ct_scalar {
    switch self {
    case .float(let v): ct_scalar(kind: 0, f: v, i: 0)
    case .int(let v): ct_scalar(kind: 1, f: Double(v), i: v)
    case .bool(let v): ct_scalar(kind: 2, f: v ? 1 : 0, i: v ? 1 : 0)
    }
  }

  init(_ c: ct_scalar) {
    switch c.kind {
    case 1: self = .int(c.i)
    case 2: self = .bool(c.i != 0)
    default: self = .float(c.f)
    }
  }

  public var doubleValue: Double {
    switch self {
    case .float(let v): v
    case .int(let v): Double(v)
    case .bool(let v): v ? 1 : 0
    }
  }
}

/// A Swift value usable wherever an operation takes a number.
public protocol ScalarConvertible {
  var scalar: Scalar { get }
}

extension Double: ScalarConvertible { public var scalar: Scalar { .float(self) } }
extension Float: ScalarConvertible { public var scalar: Scalar { .float(Double(self)) } }
extension Int: ScalarConvertible { public var scalar: Scalar { .int(Int64(self)) } }
extension Int64: ScalarConvertible { public var scalar: Scalar { .int(self) } }
extension Int32: ScalarConvertible { public var scalar: Scalar { .int(Int64(self)) } }
extension UInt8: ScalarConvertible { public var scalar: Scalar { .int(Int64(self)) } }
extension Bool: ScalarConvertible { public var scalar: Scalar { .bool(self) } }
extension Scalar: ScalarConvertible { public var scalar: Scalar { self } }

/// A Swift type whose values can be copied into and out of tensors element by element.
public protocol TensorElement: ScalarConvertible {
  static var dtype: DType { get }
  /// Zero of this type, used to size buffers.
  static var zero: Self { get }
}

extension Float: TensorElement {
  public static var dtype: DType { .float32 }
  public static var zero: Float { 0 }
}
extension Double: TensorElement {
  public static var dtype: DType { .float64 }
  public static var zero: Double { 0 }
}
extension Int64: TensorElement {
  public static var dtype: DType { .int64 }
  public static var zero: Int64 { 0 }
}
extension Int32: TensorElement {
  public static var dtype: DType { .int32 }
  public static var zero: Int32 { 0 }
}
extension UInt8: TensorElement {
  public static var dtype: DType { .uint8 }
  public static var zero: UInt8 { 0 }
}
extension Bool: TensorElement {
  public static var dtype: DType { .bool }
  public static var zero: Bool { false }
}
/// Swift's `Int` is 64-bit on every platform SimpleDet supports, so it maps to int64.
extension Int: TensorElement {
  public static var dtype: DType { .int64 }
  public static var zero: Int { 0 }
}
