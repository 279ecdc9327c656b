import CTorch

/// A convolution or linear layer prepared for INT8 inference with FBGEMM's quantized kernels:
/// weights prepacked as symmetric int8 per output channel, activations quantized per tensor to
/// uint8 on the way in, the int32 accumulation requantized to uint8 on the way out and returned
/// dequantized as float32. CPU only (x86 with AVX2).
public final class Int8Layer: @unchecked Sendable {
  private let handle: OpaquePointer

  private init(handle: OpaquePointer) { self.handle = handle }

  deinit { ct_int8_layer_free(handle) }

  /// An affine 8-bit quantization: real = scale × (integer − zeroPoint).
  public struct Quantization: Equatable, Sendable {
    public var scale: Double
    public var zeroPoint: Int

    public init(scale: Double, zeroPoint: Int) {
      self.scale = scale
      self.zeroPoint = zeroPoint
    }
  }

  /// A 2-D convolution's weights `[O, I/groups, kh, kw]` quantized with `scales` (float32, one
  /// per output channel), its float32 bias, and its geometry; nil after reporting libtorch's
  /// error, as tensor operations do.
  public static func convolution(
    weight: Tensor, scales: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int),
    groups: Int
  ) -> Int8Layer? {
    let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
    let d = [Int64(dilation.0), Int64(dilation.1)]
    var out: OpaquePointer?
    let status = withExtendedLifetime((weight, scales, bias)) {
      ct_int8_conv2d_pack(weight.handle, scales.handle, bias?.handle, s, p, d, Int64(groups), &out)
    }
    return made(status, out, "Int8Layer.convolution")
  }

  /// A linear layer's weights `[out, in]` quantized with `scales` (one per output feature) and
  /// its float32 bias; nil after reporting libtorch's error.
  public static func linear(weight: Tensor, scales: Tensor, bias: Tensor?) -> Int8Layer? {
    var out: OpaquePointer?
    let status = withExtendedLifetime((weight, scales, bias)) {
      ct_int8_linear_pack(weight.handle, scales.handle, bias?.handle, &out)
    }
    return made(status, out, "Int8Layer.linear")
  }

  private static func made(_ status: Int32, _ out: OpaquePointer?, _ operation: String) -> Int8Layer? {
    if status == 0, let out { return Int8Layer(handle: out) }
    reportFailure(operation)
    return nil
  }

  /// The layer on `x` (float), quantized with `input` on the way in and `output` on the way out.
  public func callAsFunction(_ x: Tensor, input: Quantization, output: Quantization) -> Tensor {
    withExtendedLifetime(self) {
      Tensor.make("Int8Layer") {
        ct_int8_layer_run(
          handle, x.handle, input.scale, Int64(input.zeroPoint), output.scale, Int64(output.zeroPoint), $0)
      }
    }
  }
}
