import CTorch

extension Functional {
  /// Fake quantization with one scale and zero point for the whole tensor (PyTorch's
  /// `fake_quantize_per_tensor_affine`): `(clamp(round(x / scale) + zeroPoint, range) − zeroPoint) · scale`,
  /// rounding half to even. `scale` is a one-element float32 tensor, `zeroPoint` a one-element
  /// integer tensor (tensors, so that no value leaves the device). The gradient passes where
  /// the rounded value fell inside `range` and is zero outside it.
  public static func fakeQuantize(
    _ x: Tensor, scale: Tensor, zeroPoint: Tensor, range: ClosedRange<Int>
  ) -> Tensor {
    Tensor.make("fakeQuantize") {
      ct_fake_quantize_per_tensor(
        x.handle, scale.handle, zeroPoint.handle, Int64(range.lowerBound), Int64(range.upperBound), $0)
    }
  }

  /// Fake quantization with a scale and zero point per slice along `axis` (PyTorch's
  /// `fake_quantize_per_channel_affine`): weights per output channel, say. `scales` float32 and
  /// `zeroPoints` integer, one per slice; the gradient as `fakeQuantize`'s.
  public static func fakeQuantize(
    _ x: Tensor, scales: Tensor, zeroPoints: Tensor, axis: Int, range: ClosedRange<Int>
  ) -> Tensor {
    Tensor.make("fakeQuantize(perChannel)") {
      ct_fake_quantize_per_channel(
        x.handle, scales.handle, zeroPoints.handle, Int64(axis), Int64(range.lowerBound), Int64(range.upperBound), $0)
    }
  }
}
