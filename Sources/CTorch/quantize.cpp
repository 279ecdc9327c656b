// Quantization-aware training's fake quantization: libtorch's kernels, which round to the
// nearest integer (half to even), clamp to [quant_min, quant_max] and scale back, with the
// gradient passed where the value fell inside that range and zero outside (the "clip" mode;
// Swift builds the straight-through one from it).
#include "libtorch_check.h"

#include "internal.h"

using namespace ctorch;

extern "C" int ct_fake_quantize_per_tensor(ct_tensor x, ct_tensor scale, ct_tensor zero_point, int64_t quant_min,
                                           int64_t quant_max, ct_tensor *out) {
  CT_TRY({
    *out = wrap(at::fake_quantize_per_tensor_affine(unwrap(x), unwrap(scale), unwrap(zero_point).to(at::kInt),
                                                    quant_min, quant_max));
  })
}

extern "C" int ct_fake_quantize_per_channel(ct_tensor x, ct_tensor scales, ct_tensor zero_points, int64_t axis,
                                            int64_t quant_min, int64_t quant_max, ct_tensor *out) {
  CT_TRY({
    *out = wrap(at::fake_quantize_per_channel_affine(unwrap(x), unwrap(scales), unwrap(zero_points).to(at::kInt), axis,
                                                     quant_min, quant_max));
  })
}
