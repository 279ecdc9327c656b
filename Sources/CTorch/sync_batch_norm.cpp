// Cross-process batch norm (PyTorch's SyncBatchNorm): the statistics of the whole group's batch,
// each process holding a part of it (any number of images, none included). Forward all-reduces
// per-channel sums, sums of squares and the count; backward all-reduces the sums of dy and dy·x̂
// that the input gradient needs. Both travel in the group given (cross-process batch norm has a
// group of its own, so its collectives never mix with the gradient buckets').
//
// Gradient convention (as PyTorch's SyncBatchNorm with DistributedDataParallel): with W processes
// whose losses are L_r, data-parallel training descends L = (1/W) Σ_r L_r, averaging gradients
// over the processes. Here
//   - dx on process r is the gradient of Σ_s L_s (not of L) with respect to its part of the input:
//     the global sums of dy enter undivided, over the global count M. Everything upstream then
//     gets W × its share of ∂L/∂θ, and the reducer's average over the W processes gives ∂L/∂θ.
//   - dweight and dbias are this process's own sums (Σ dy·x̂ and Σ dy over its elements); the
//     reducer's average of them is ∂L/∂weight and ∂L/∂bias.
// After averaging, every parameter's gradient equals that of single-process batch norm on the
// concatenated batch with the loss (1/W) Σ_r L_r; SyncBatchNormTests checks this.
#include "libtorch_check.h"

#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "internal.h"
#include "process_group.h"

using namespace ctorch;
using torch::autograd::variable_list;

namespace {

// Per-channel vectors shaped for broadcasting over [N, C, ...].
at::Tensor channels(const at::Tensor &v, int64_t dim) {
  std::vector<int64_t> shape(static_cast<size_t>(dim), 1);
  shape[1] = -1;
  return v.view(shape);
}

// Every dimension but the channels'.
std::vector<int64_t> reduced_dims(const at::Tensor &x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// Sums `t` over the group, in place; throws c10d's error (timeout, a peer gone).
void all_reduce(const c10::intrusive_ptr<c10d::ProcessGroup> &group, at::Tensor &t) {
  std::vector<at::Tensor> tensors{t};
  group->allreduce(tensors)->wait();
}

struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static variable_list forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &weight,
                               const at::Tensor &bias, at::Tensor running_mean, at::Tensor running_var, double momentum,
                               double epsilon, c10::intrusive_ptr<c10d::ProcessGroup> group) {
    TORCH_CHECK(x.dim() >= 2, "SyncBatchNorm: expected an input of [N, C, ...], got ", x.sizes());
    const int64_t c = x.size(1);
    const auto dims = reduced_dims(x);
    // Sums in float64, so that the variance taken as E[x²] − E[x]² keeps float32's precision;
    // the arithmetic on activations in float32 (or float64), the output in the input's type.
    const auto compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    const auto wide = x.to(at::kDouble);
    const double local_count = c > 0 ? double(x.numel() / c) : 0.0;
    auto stats = at::cat({wide.sum(dims), wide.square().sum(dims), at::full({1}, local_count, wide.options())});
    all_reduce(group, stats);
    const double count = stats[2 * c].item<double>();
    TORCH_CHECK(count > 1, "SyncBatchNorm: expected more than 1 value per channel in training over the process group, got ",
                count);
    const auto mean = stats.slice(0, 0, c) / count;
    const auto variance = (stats.slice(0, c, 2 * c) / count - mean.square()).clamp_min(0);
    if (running_mean.numel() > 0) {
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_((variance * (count / (count - 1))).to(running_var.scalar_type()), momentum);
    }
    const auto mean_c = mean.to(compute);
    const auto invstd = (variance + epsilon).rsqrt().to(compute);
    const auto input = x.to(compute);
    const int64_t dim = x.dim();
    auto y = (input - channels(mean_c, dim)) * channels(invstd * weight.to(compute), dim) + channels(bias.to(compute), dim);
    ctx->save_for_backward({x, weight, mean_c, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["group"] = c10::IValue::make_capsule(group);
    return {y.to(x.scalar_type())};
  }

  static variable_list backward(torch::autograd::AutogradContext *ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    auto group = c10::static_intrusive_pointer_cast<c10d::ProcessGroup>(ctx->saved_data["group"].toCapsule());
    const int64_t c = x.size(1), dim = x.dim();
    const auto dims = reduced_dims(x);
    const auto compute = mean.scalar_type();
    const auto dy = grad_outputs[0].to(compute);
    const auto normalized = (x.to(compute) - channels(mean, dim)) * channels(invstd, dim);
    // This process's sums: its weight and bias gradients, and its share of the global sums.
    const auto sum_dy = dy.sum(dims, false, at::kDouble);
    const auto sum_dy_normalized = (dy * normalized).sum(dims, false, at::kDouble);
    // Every process that runs this backward all-reduces, whether or not it needs dx.
    auto global = at::cat({sum_dy, sum_dy_normalized});
    all_reduce(group, global);
    at::Tensor dx;
    if (ctx->needs_input_grad(0)) {
      const auto mean_dy = (global.slice(0, 0, c) / count).to(compute);
      const auto mean_dy_normalized = (global.slice(0, c, 2 * c) / count).to(compute);
      dx = channels(weight.to(compute) * invstd, dim) *
           (dy - channels(mean_dy, dim) - normalized * channels(mean_dy_normalized, dim));
      dx = dx.to(x.scalar_type());
    }
    at::Tensor dweight = ctx->needs_input_grad(1) ? sum_dy_normalized.to(weight.scalar_type()) : at::Tensor();
    at::Tensor dbias = ctx->needs_input_grad(2) ? sum_dy.to(weight.scalar_type()) : at::Tensor();  // bias: weight's type
    return {dx, dweight, dbias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" int ct_sync_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean,
                                  ct_tensor running_var, double momentum, double epsilon, ct_process_group group,
                                  ct_tensor *out) {
  CT_TRY({
    const auto &input = unwrap(x);
    if (group == nullptr || group->size == 1) {
      // One process: ordinary batch norm, exactly as ct_batch_norm computes it.
      *out = wrap(at::batch_norm(input, optional(weight), optional(bias), optional(running_mean), optional(running_var),
                                 /*training=*/true, momentum, epsilon, /*cudnn_enabled=*/true));
      return 0;
    }
    // Absent tensors arrive as stand-ins (autograd's apply wants defined inputs): no running
    // statistics to update, or the identity affine transform.
    const int64_t c = input.dim() >= 2 ? input.size(1) : 0;
    const auto plain = input.options().requires_grad(false);
    auto or_else = [&](ct_tensor t, at::Tensor fallback) { return t && unwrap(t).defined() ? unwrap(t) : fallback; };
    auto result = SyncBatchNormFunction::apply(
        input, or_else(weight, at::ones({c}, plain)), or_else(bias, at::zeros({c}, plain)),
        or_else(running_mean, at::empty({0}, plain)), or_else(running_var, at::empty({0}, plain)), momentum, epsilon,
        group->group);
    *out = wrap(result[0]);
  })
}
