// In-place activated batch norm (Rota Bulò et al. 2018, InPlace-ABN): batch normalisation and a
// leaky ReLU (or no activation) as one autograd node that keeps only its output for backward.
// Backward inverts the activation and the affine transform to recover the normalised input,
// so the layer's input (a convolution's output, usually) is not kept alive at all.
#include "libtorch_check.h"

#include <torch/csrc/autograd/custom_function.h>

#include "internal.h"

using namespace ctorch;
using torch::autograd::variable_list;

namespace {

// Per-channel vectors as [1, C, 1, 1] for broadcasting over [N, C, H, W].
at::Tensor channels(const at::Tensor &v) { return v.view({1, -1, 1, 1}); }

struct InPlaceABNFunction : public torch::autograd::Function<InPlaceABNFunction> {
  // `weight` is the positive affine scale (|γ| + ε, so that the transform can be inverted).
  static variable_list forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &weight,
                               const at::Tensor &bias, at::Tensor running_mean, at::Tensor running_var, double momentum,
                               double epsilon, double slope, bool activation) {
    const std::vector<int64_t> dims{0, 2, 3};
    const int64_t count = x.numel() / x.size(1);
    // Statistics and arithmetic in float32 (or float64); the output in the input's type (bf16
    // under autocast), which is what is kept.
    const auto compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    const auto input = x.to(compute);
    auto mean = input.mean(dims);
    auto variance = input.var(dims, /*unbiased=*/false);
    auto invstd = (variance + epsilon).rsqrt();
    if (running_mean.numel() > 0) {
      running_mean.mul_(1 - momentum).add_(mean, momentum);
      running_var.mul_(1 - momentum).add_(variance * (double(count) / double(std::max<int64_t>(count - 1, 1))), momentum);
    }
    auto z = (input - channels(mean)) * channels(invstd * weight.to(compute)) + channels(bias.to(compute));
    if (activation) at::leaky_relu_(z, slope);
    z = z.to(x.scalar_type());
    ctx->save_for_backward({z, weight, bias, invstd});
    ctx->saved_data["slope"] = slope;
    ctx->saved_data["activation"] = activation;
    return {z};
  }

  static variable_list backward(torch::autograd::AutogradContext *ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const auto &z = saved[0], &weight = saved[1], &bias = saved[2], &invstd = saved[3];
    const double slope = ctx->saved_data["slope"].toDouble();
    const bool activation = ctx->saved_data["activation"].toBool();
    const std::vector<int64_t> dims{0, 2, 3};
    const double count = double(z.numel() / z.size(1));
    const auto type = z.scalar_type();
    const auto compute = type == at::kDouble ? at::kDouble : at::kFloat;
    auto dz = grad_outputs[0].to(compute);
    at::Tensor y = z.to(compute), dy = dz;
    if (activation) {
      auto positive = y >= 0;
      y = at::where(positive, y, y / slope);
      dy = at::where(positive, dz, dz * slope);
    }
    const auto w = weight.to(compute);
    auto normalized = (y - channels(bias.to(compute))) / channels(w);
    auto sum_dy = dy.sum(dims);
    auto sum_dy_normalized = (dy * normalized).sum(dims);
    auto dx = channels(w * invstd) * (dy - channels(sum_dy / count) - normalized * channels(sum_dy_normalized / count));
    return {dx.to(type), sum_dy_normalized.to(weight.scalar_type()), sum_dy.to(bias.scalar_type()), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

extern "C" int ct_inplace_abn(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean,
                              ct_tensor running_var, double momentum, double epsilon, double slope, int32_t activation,
                              ct_tensor *out) {
  CT_TRY({
    // Absent running statistics arrive as empty tensors (autograd's apply wants defined inputs).
    const auto &input = unwrap(x);
    auto stand_in = [&](ct_tensor t) { return t ? unwrap(t) : at::empty({0}, input.options().requires_grad(false)); };
    auto result = InPlaceABNFunction::apply(input, unwrap(weight), unwrap(bias), stand_in(running_mean),
                                            stand_in(running_var), momentum, epsilon, slope, activation != 0);
    *out = wrap(result[0]);
  })
}
