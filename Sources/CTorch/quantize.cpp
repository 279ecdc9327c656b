// Quantization: training's fake quantization, and INT8 inference with FBGEMM (below).
//
// Fake quantization is libtorch's: round to the nearest integer (half to even), clamp to
// [quant_min, quant_max] and scale back, with the gradient passed where the value fell inside
// that range and zero outside (the "clip" mode; Swift builds the straight-through one from it).
#include "libtorch_check.h"

#include <ATen/core/dispatch/Dispatcher.h>

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

// ---------------------------------------------------------------------------------------------
// INT8 inference with FBGEMM's quantized kernels (libtorch's `quantized::` operators, reached
// through the dispatcher): weights prepacked once as symmetric int8 per output channel,
// activations quantized per tensor to uint8 with the learned scale and zero point, the int32
// accumulation requantized to uint8 with the output's scale, then dequantized to float32 for
// the layers that stay in floating point.

struct ct_int8_layer_impl {
  c10::IValue packed;  // Conv2dPackedParamsBase or LinearPackedParamsBase
  bool convolution;
};

namespace {

// This libtorch warns (once per process) that quantized tensors are deprecated, pytorch#184982:
// they are still its only way to FBGEMM's int8 kernels, and the warning says nothing a user can
// act on. Every other warning reaches the handler that was there before.
class QuantizedDeprecationFilter : public c10::WarningHandler {
 public:
  explicit QuantizedDeprecationFilter(c10::WarningHandler *next) : next_(next) {}

  void process(const c10::Warning &warning) override {
    if (warning.msg().find("quantized tensor creation functions") != std::string::npos) return;
    next_->process(warning);
  }

 private:
  c10::WarningHandler *next_;
};

void use_fbgemm() {
  auto &context = at::globalContext();
  if (context.qEngine() != at::QEngine::FBGEMM) context.setQEngine(at::QEngine::FBGEMM);
}

std::vector<c10::IValue> call(const char *name, const char *overload, std::vector<c10::IValue> stack) {
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
  op.callBoxed(&stack);
  return stack;
}

// Symmetric int8 per output channel with the given scales (zero points 0).
at::Tensor int8_weight(const at::Tensor &weight, const at::Tensor &scales) {
  auto w = weight.detach().to(at::kFloat).contiguous();
  return at::quantize_per_channel(w, scales.detach().to(at::kDouble), at::zeros({w.size(0)}, at::kLong), 0, at::kQInt8);
}

}  // namespace

namespace {

// Prepacks `weight` (symmetric int8 per output channel with `scales`) and `bias` (NULL: none)
// with the operator `op`, whose further arguments are `geometry`.
ct_int8_layer_impl *packed(const char *op, ct_tensor weight, ct_tensor scales, ct_tensor bias,
                           const std::vector<c10::IValue> &geometry, bool convolution) {
  use_fbgemm();
  QuantizedDeprecationFilter filter(c10::WarningUtils::get_warning_handler());
  c10::WarningUtils::WarningHandlerGuard guard(&filter);
  std::optional<at::Tensor> b;
  if (bias) b = unwrap(bias).detach().to(at::kFloat).contiguous();
  std::vector<c10::IValue> stack{int8_weight(unwrap(weight), unwrap(scales)), b};
  stack.insert(stack.end(), geometry.begin(), geometry.end());
  return new ct_int8_layer_impl{call(op, "", std::move(stack)).at(0), convolution};
}

}  // namespace

extern "C" int ct_int8_conv2d_pack(ct_tensor weight, ct_tensor scales, ct_tensor bias, const int64_t *stride,
                                   const int64_t *padding, const int64_t *dilation, int64_t groups,
                                   ct_int8_layer *out) {
  CT_TRY({
    *out = packed("quantized::conv2d_prepack", weight, scales, bias,
                  {c10::List<int64_t>({stride[0], stride[1]}), c10::List<int64_t>({padding[0], padding[1]}),
                   c10::List<int64_t>({dilation[0], dilation[1]}), groups},
                  true);
  })
}

extern "C" int ct_int8_linear_pack(ct_tensor weight, ct_tensor scales, ct_tensor bias, ct_int8_layer *out) {
  CT_TRY({ *out = packed("quantized::linear_prepack", weight, scales, bias, {}, false); })
}

extern "C" int ct_int8_layer_run(ct_int8_layer layer, ct_tensor x, double input_scale, int64_t input_zero_point,
                                 double output_scale, int64_t output_zero_point, ct_tensor *out) {
  CT_TRY({
    use_fbgemm();
    QuantizedDeprecationFilter filter(c10::WarningUtils::get_warning_handler());
    c10::WarningUtils::WarningHandlerGuard guard(&filter);
    const auto &input = unwrap(x);
    // FBGEMM convolves channels-last maps; a contiguous one is reordered once here.
    auto source = layer->convolution ? input.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast)
                                     : input.to(at::kFloat).contiguous();
    auto qx = at::quantize_per_tensor(source, input_scale, input_zero_point, at::kQUInt8);
    auto result = layer->convolution
                      ? call("quantized::conv2d", "new", {qx, layer->packed, output_scale, output_zero_point})
                      : call("quantized::linear", "", {qx, layer->packed, output_scale, output_zero_point});
    *out = wrap(result.at(0).toTensor().dequantize());
  })
}

extern "C" void ct_int8_layer_free(ct_int8_layer layer) { delete layer; }
