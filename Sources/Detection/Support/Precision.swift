import Torch

// Where detectors step out of autocast's reduced precision.

/// `tensor` in float32 when it holds a reduced-precision float (bfloat16 or float16 from autocast):
/// NMS compares coordinates, which bfloat16's 8-bit mantissa would blur.
func fullPrecision(_ tensor: Tensor) -> Tensor {
  tensor.dtype == .bfloat16 || tensor.dtype == .float16 ? tensor.to(.float32) : tensor
}

/// `body(input)` in float32 when autocast is on: for a head's last layer, whose outputs (the
/// scores that rank detections, the box offsets) bfloat16's 8-bit mantissa would blur, at a
/// negligible share of the work. Measured on the shapes demo: evaluating in bf16 cost 0.011–0.015
/// box AP against float32 with the whole predictor in bfloat16.
func computedInFloat32<R>(_ input: Tensor, _ body: (Tensor) -> R) -> R {
  guard isAutocastEnabled else { return body(input) }
  return withoutAutocast { body(fullPrecision(input)) }
}
