// Neural-network kernels and the losses detection uses.
#include "libtorch_check.h"

#include "internal.h"

using namespace ctorch;

extern "C" {

int ct_matmul(ct_tensor a, ct_tensor b, ct_tensor *out) { CT_TRY(*out = wrap(at::matmul(unwrap(a), unwrap(b)))) }
int ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor bias, const int64_t *stride, const int64_t *padding,
              const int64_t *dilation, int64_t groups, ct_tensor *out) {
  CT_TRY(*out = wrap(at::conv2d(unwrap(x), unwrap(w), optional(bias), ints(stride, 2), ints(padding, 2),
                                ints(dilation, 2), groups)))
}
int ct_conv_transpose2d(ct_tensor x, ct_tensor w, ct_tensor bias, const int64_t *stride, const int64_t *padding,
                        const int64_t *output_padding, const int64_t *dilation, int64_t groups, ct_tensor *out) {
  CT_TRY(*out = wrap(at::conv_transpose2d(unwrap(x), unwrap(w), optional(bias), ints(stride, 2), ints(padding, 2),
                                          ints(output_padding, 2), groups, ints(dilation, 2))))
}
int ct_max_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                  const int64_t *dilation, int32_t ceil_mode, ct_tensor *out) {
  CT_TRY(*out = wrap(at::max_pool2d(unwrap(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2), ints(dilation, 2),
                                    ceil_mode != 0)))
}
int ct_avg_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding, int32_t ceil_mode,
                  int32_t count_include_pad, ct_tensor *out) {
  CT_TRY(*out = wrap(at::avg_pool2d(unwrap(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2), ceil_mode != 0,
                                    count_include_pad != 0)))
}
int ct_adaptive_pool2d(int32_t kind, ct_tensor x, const int64_t *output_size, ct_tensor *out) {
  CT_TRY(*out = wrap(kind == 1 ? std::get<0>(at::adaptive_max_pool2d(unwrap(x), ints(output_size, 2)))
                               : at::adaptive_avg_pool2d(unwrap(x), ints(output_size, 2))))
}
int ct_interpolate(ct_tensor x, int32_t mode, const int64_t *size, const double *scale, int32_t align_corners,
                   ct_tensor *out) {
  CT_TRY({
    const at::Tensor &input = unwrap(x);
    TORCH_CHECK(input.dim() == 4, "interpolate expects an NCHW tensor, got ", input.dim(), " dimensions");
    std::vector<int64_t> out_size(2);
    std::optional<double> sh, sw;
    if (size != nullptr) {
      out_size = {size[0], size[1]};
    } else {
      TORCH_CHECK(scale != nullptr, "interpolate needs a size or a scale factor");
      out_size = {static_cast<int64_t>(std::floor(input.size(2) * scale[0])),
                  static_cast<int64_t>(std::floor(input.size(3) * scale[1]))};
      sh = scale[0];
      sw = scale[1];
    }
    at::Tensor r;
    switch (mode) {
      case 0: r = at::upsample_nearest2d(input, out_size, sh, sw); break;
      case 1: r = at::upsample_bilinear2d(input, out_size, align_corners != 0, sh, sw); break;
      case 2: r = at::upsample_bicubic2d(input, out_size, align_corners != 0, sh, sw); break;
      case 3: r = at::_upsample_nearest_exact2d(input, out_size, sh, sw); break;
      default: TORCH_CHECK(false, "unknown interpolation mode ", mode);
    }
    *out = wrap(std::move(r));
  })
}
int ct_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean, ct_tensor running_var,
                  int32_t training, double momentum, double eps, ct_tensor *out) {
  CT_TRY(*out = wrap(at::batch_norm(unwrap(x), optional(weight), optional(bias), optional(running_mean),
                                    optional(running_var), training != 0, momentum, eps, /*cudnn_enabled=*/true)))
}
int ct_group_norm(ct_tensor x, int64_t groups, ct_tensor weight, ct_tensor bias, double eps, ct_tensor *out) {
  CT_TRY(*out = wrap(at::group_norm(unwrap(x), groups, optional(weight), optional(bias), eps)))
}
int ct_layer_norm(ct_tensor x, const int64_t *shape, int64_t ndim, ct_tensor weight, ct_tensor bias, double eps,
                  ct_tensor *out) {
  CT_TRY(*out = wrap(at::layer_norm(unwrap(x), ints(shape, ndim), optional(weight), optional(bias), eps)))
}
int ct_dropout(ct_tensor x, double p, int32_t training, ct_generator g, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &input = unwrap(x);
    if (!training || p == 0.0) {
      *out = wrap(input);
    } else {
      TORCH_CHECK(p > 0.0 && p < 1.0, "dropout probability must be in [0, 1), got ", p);
      at::Tensor keep = at::empty_like(input).bernoulli_(1.0 - p, optional(g));
      *out = wrap(input * keep / (1.0 - p));
    }
  })
}

int ct_cross_entropy(ct_tensor input, ct_tensor target, ct_tensor weight, int32_t reduction, int64_t ignore_index,
                     double label_smoothing, ct_tensor *out) {
  CT_TRY(*out = wrap(at::cross_entropy_loss(unwrap(input), unwrap(target), optional(weight), ctorch::reduction(reduction),
                                            ignore_index, label_smoothing)))
}
int ct_bce_with_logits(ct_tensor input, ct_tensor target, ct_tensor weight, ct_tensor pos_weight, int32_t reduction,
                       ct_tensor *out) {
  CT_TRY(*out = wrap(at::binary_cross_entropy_with_logits(unwrap(input), unwrap(target), optional(weight),
                                                          optional(pos_weight), ctorch::reduction(reduction))))
}
int ct_smooth_l1(ct_tensor input, ct_tensor target, int32_t reduction, double beta, ct_tensor *out) {
  CT_TRY({
    // beta 0 is plain L1; ATen's smooth_l1 asks for beta > 0 in some builds.
    *out = wrap(beta == 0.0 ? at::l1_loss(unwrap(input), unwrap(target), ctorch::reduction(reduction))
                            : at::smooth_l1_loss(unwrap(input), unwrap(target), ctorch::reduction(reduction), beta));
  })
}
int ct_l1_loss(ct_tensor input, ct_tensor target, int32_t reduction, ct_tensor *out) {
  CT_TRY(*out = wrap(at::l1_loss(unwrap(input), unwrap(target), ctorch::reduction(reduction))))
}
int ct_mse_loss(ct_tensor input, ct_tensor target, int32_t reduction, ct_tensor *out) {
  CT_TRY(*out = wrap(at::mse_loss(unwrap(input), unwrap(target), ctorch::reduction(reduction))))
}
int ct_nll_loss(ct_tensor input, ct_tensor target, ct_tensor weight, int32_t reduction, int64_t ignore_index,
                ct_tensor *out) {
  CT_TRY(*out = wrap(at::nll_loss_nd(unwrap(input), unwrap(target), optional(weight), ctorch::reduction(reduction),
                                     ignore_index)))
}

}  // extern "C"
