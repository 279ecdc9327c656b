// Fully connected layers through oneDNN's matrix product rather than the BLAS behind at::linear.
// On this AMD Zen 5 machine MKL's sgemm runs at ~215 GFLOP/s on two cores while oneDNN's matmul,
// which libtorch also carries, reaches ~340 forward and ~300 backward (box head fc6 shapes,
// including the layout conversions), so Faster R-CNN's box head costs a third less. The
// operators are libtorch's own (aten::mkldnn_linear and its two backward halves); this file only
// wraps them in one autograd function, because libtorch defines their derivatives for oneDNN
// tensors only.
#include "libtorch_check.h"

#include <ATen/autocast_mode.h>
#include <ATen/Context.h>
#include <torch/csrc/autograd/custom_function.h>

#include "internal.h"

using namespace ctorch;

namespace {

struct OneDNNLinearFunction : public torch::autograd::Function<OneDNNLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &input, const at::Tensor &weight,
                            const std::optional<at::Tensor> &bias) {
    at::Tensor packed = input.contiguous().to_mkldnn();
    ctx->saved_data["input"] = packed;
    ctx->saved_data["has_bias"] = bias.has_value();
    ctx->save_for_backward({weight});
    return at::mkldnn_linear(packed, weight, bias).to_dense();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    at::Tensor weight = ctx->get_saved_variables()[0];
    at::Tensor input = ctx->saved_data["input"].toTensor();
    bool has_bias = ctx->saved_data["has_bias"].toBool();
    at::Tensor grad = grad_outputs[0].contiguous().to_mkldnn();
    at::Tensor grad_input, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) {
      grad_input = at::mkldnn_linear_backward_input(input.sizes(), grad, weight).to_dense();
    }
    if (ctx->needs_input_grad(1) || (has_bias && ctx->needs_input_grad(2))) {
      std::tie(grad_weight, grad_bias) = at::mkldnn_linear_backward_weights(grad, input, weight, has_bias);
      if (!ctx->needs_input_grad(1)) grad_weight = at::Tensor();
      if (!has_bias || !ctx->needs_input_grad(2)) grad_bias = at::Tensor();
    }
    return {grad_input, grad_weight, grad_bias};
  }
};

// Float32 matrices on the CPU outside autocast (which picks bf16 kernels itself); everything else
// keeps at::linear.
bool uses_onednn(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &bias) {
  auto plain = [](const at::Tensor &t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided; };
  return at::hasMKLDNN() && x.dim() == 2 && w.dim() == 2 && x.size(0) > 0 && plain(x) && plain(w) &&
         (!bias.has_value() || plain(*bias)) && !at::autocast::is_autocast_enabled(at::kCPU);
}

}  // namespace

extern "C" {

int ct_linear(ct_tensor x, ct_tensor w, ct_tensor bias, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &input = unwrap(x);
    const at::Tensor &weight = unwrap(w);
    auto b = optional(bias);
    *out = wrap(uses_onednn(input, weight, b) ? OneDNNLinearFunction::apply(input, weight, b)
                                               : at::linear(input, weight, b));
  })
}

}  // extern "C"
