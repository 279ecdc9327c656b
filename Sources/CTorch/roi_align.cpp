// RoIAlign (He et al., Mask R-CNN): bilinear sampling of feature-map regions into a fixed grid,
// with its backward pass, registered with libtorch's autograd. libtorch has no such kernel.
//
// Conventions follow torchvision's roi_align: rois are [K, 5] rows (batch index, x1, y1, x2, y2)
// in input-image coordinates, scaled by `spatial_scale`; `aligned` shifts sample points by half
// a pixel (the correct convention), and without it RoIs are at least one pixel wide (legacy).
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "internal.h"

using namespace ctorch;

namespace {

// One sample point's four neighbours (flat offsets into an H×W plane) and their weights.
template <typename T>
struct Tap {
  int64_t offset[4];
  T weight[4];
};

struct Geometry {
  int64_t height, width, pooled_h, pooled_w;
  double spatial_scale;
  int64_t sampling_ratio;
  bool aligned;
};

// The bilinear taps of every sample point of one RoI, in (ph, pw, iy, ix) order; returns the
// number of samples per bin (the divisor of the average).
template <typename T>
int64_t taps_for_roi(const T *roi, const Geometry &g, std::vector<Tap<T>> &taps, int64_t &grid_h, int64_t &grid_w) {
  const T offset = g.aligned ? T(0.5) : T(0);
  const T start_w = roi[1] * T(g.spatial_scale) - offset;
  const T start_h = roi[2] * T(g.spatial_scale) - offset;
  const T end_w = roi[3] * T(g.spatial_scale) - offset;
  const T end_h = roi[4] * T(g.spatial_scale) - offset;
  T roi_w = end_w - start_w;
  T roi_h = end_h - start_h;
  if (!g.aligned) {
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  const T bin_h = roi_h / T(g.pooled_h);
  const T bin_w = roi_w / T(g.pooled_w);
  grid_h = g.sampling_ratio > 0 ? g.sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / T(g.pooled_h)));
  grid_w = g.sampling_ratio > 0 ? g.sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / T(g.pooled_w)));
  grid_h = std::max<int64_t>(grid_h, 0);
  grid_w = std::max<int64_t>(grid_w, 0);
  taps.resize(static_cast<size_t>(g.pooled_h * g.pooled_w * grid_h * grid_w));

  size_t k = 0;
  for (int64_t ph = 0; ph < g.pooled_h; ++ph) {
    for (int64_t pw = 0; pw < g.pooled_w; ++pw) {
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        T y = start_h + T(ph) * bin_h + (T(iy) + T(0.5)) * bin_h / T(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix, ++k) {
          T x = start_w + T(pw) * bin_w + (T(ix) + T(0.5)) * bin_w / T(grid_w);
          Tap<T> &tap = taps[k];
          // Points more than one pixel outside the map contribute nothing.
          if (y < T(-1) || y > T(g.height) || x < T(-1) || x > T(g.width)) {
            for (int n = 0; n < 4; ++n) {
              tap.offset[n] = 0;
              tap.weight[n] = 0;
            }
            continue;
          }
          T yy = std::max(y, T(0));
          T xx = std::max(x, T(0));
          int64_t y0 = static_cast<int64_t>(yy);
          int64_t x0 = static_cast<int64_t>(xx);
          int64_t y1, x1;
          if (y0 >= g.height - 1) {
            y0 = y1 = g.height - 1;
            yy = T(y0);
          } else {
            y1 = y0 + 1;
          }
          if (x0 >= g.width - 1) {
            x0 = x1 = g.width - 1;
            xx = T(x0);
          } else {
            x1 = x0 + 1;
          }
          const T ly = yy - T(y0), lx = xx - T(x0);
          const T hy = T(1) - ly, hx = T(1) - lx;
          tap.offset[0] = y0 * g.width + x0;
          tap.offset[1] = y0 * g.width + x1;
          tap.offset[2] = y1 * g.width + x0;
          tap.offset[3] = y1 * g.width + x1;
          tap.weight[0] = hy * hx;
          tap.weight[1] = hy * lx;
          tap.weight[2] = ly * hx;
          tap.weight[3] = ly * lx;
        }
      }
    }
  }
  return std::max<int64_t>(grid_h * grid_w, 1);
}

template <typename T>
void forward_kernel(const at::Tensor &input, const at::Tensor &rois, const Geometry &g, at::Tensor &output) {
  const int64_t channels = input.size(1);
  const int64_t plane = g.height * g.width;
  const int64_t bins = g.pooled_h * g.pooled_w;
  const T *in = input.data_ptr<T>();
  const T *r = rois.data_ptr<T>();
  T *out = output.data_ptr<T>();
  const int64_t batch = input.size(0);
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    for (int64_t n = begin; n < end; ++n) {
      const T *roi = r + n * 5;
      const int64_t b = static_cast<int64_t>(roi[0]);
      TORCH_CHECK(b >= 0 && b < batch, "roi_align: RoI ", n, " names image ", b, " but the batch has ", batch);
      int64_t grid_h, grid_w;
      const int64_t count = taps_for_roi(roi, g, taps, grid_h, grid_w);
      const int64_t per_bin = grid_h * grid_w;
      for (int64_t c = 0; c < channels; ++c) {
        const T *src = in + (b * channels + c) * plane;
        T *dst = out + (n * channels + c) * bins;
        const Tap<T> *tap = taps.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          T sum = 0;
          for (int64_t s = 0; s < per_bin; ++s, ++tap) {
            sum += tap->weight[0] * src[tap->offset[0]] + tap->weight[1] * src[tap->offset[1]] +
                   tap->weight[2] * src[tap->offset[2]] + tap->weight[3] * src[tap->offset[3]];
          }
          dst[bin] = sum / T(count);
        }
      }
    }
  });
}

// Gradients of different channels never touch the same memory, so channels run in parallel; the
// taps of each RoI are recomputed per task rather than stored for all RoIs.
template <typename T>
void backward_kernel(const at::Tensor &grad_output, const at::Tensor &rois, const Geometry &g, at::Tensor &grad_input) {
  const int64_t channels = grad_input.size(1);
  const int64_t plane = g.height * g.width;
  const int64_t bins = g.pooled_h * g.pooled_w;
  const T *go = grad_output.data_ptr<T>();
  const T *r = rois.data_ptr<T>();
  T *gi = grad_input.data_ptr<T>();
  const int64_t num_rois = rois.size(0);
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    for (int64_t n = 0; n < num_rois; ++n) {
      const T *roi = r + n * 5;
      const int64_t b = static_cast<int64_t>(roi[0]);
      int64_t grid_h, grid_w;
      const int64_t count = taps_for_roi(roi, g, taps, grid_h, grid_w);
      const int64_t per_bin = grid_h * grid_w;
      for (int64_t c = begin; c < end; ++c) {
        T *dst = gi + (b * channels + c) * plane;
        const T *src = go + (n * channels + c) * bins;
        const Tap<T> *tap = taps.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          const T share = src[bin] / T(count);
          for (int64_t s = 0; s < per_bin; ++s, ++tap) {
            for (int k = 0; k < 4; ++k) dst[tap->offset[k]] += tap->weight[k] * share;
          }
        }
      }
    }
  });
}

at::Tensor roi_align_forward(const at::Tensor &input, const at::Tensor &rois, const Geometry &g) {
  at::Tensor in = input.contiguous();
  at::Tensor r = rois.to(in.scalar_type()).contiguous();
  at::Tensor output = at::zeros({r.size(0), in.size(1), g.pooled_h, g.pooled_w}, in.options());
  if (r.size(0) == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "roi_align_forward", [&] { forward_kernel<scalar_t>(in, r, g, output); });
  return output;
}

at::Tensor roi_align_backward(const at::Tensor &grad_output, const at::Tensor &rois, const Geometry &g,
                              at::IntArrayRef input_shape) {
  at::Tensor go = grad_output.contiguous();
  at::Tensor r = rois.to(go.scalar_type()).contiguous();
  at::Tensor grad_input = at::zeros(input_shape, go.options());
  if (r.size(0) == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "roi_align_backward",
                             [&] { backward_kernel<scalar_t>(go, r, g, grad_input); });
  return grad_input;
}

Geometry geometry_from(const at::Tensor &input, int64_t ph, int64_t pw, double scale, int64_t sampling,
                       bool aligned) {
  return Geometry{input.size(2), input.size(3), ph, pw, scale, sampling, aligned};
}

struct RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext *ctx, const at::Tensor &input,
                                                const at::Tensor &rois, int64_t pooled_h, int64_t pooled_w,
                                                double spatial_scale, int64_t sampling_ratio, bool aligned) {
    ctx->saved_data["pooled_h"] = pooled_h;
    ctx->saved_data["pooled_w"] = pooled_w;
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["input_shape"] = input.sizes().vec();
    ctx->save_for_backward({rois});
    at::AutoDispatchBelowADInplaceOrView guard;
    Geometry g = geometry_from(input, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
    return {roi_align_forward(input, rois, g)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto rois = ctx->get_saved_variables()[0];
    auto shape = ctx->saved_data["input_shape"].toIntVector();
    Geometry g{shape[2],
               shape[3],
               ctx->saved_data["pooled_h"].toInt(),
               ctx->saved_data["pooled_w"].toInt(),
               ctx->saved_data["spatial_scale"].toDouble(),
               ctx->saved_data["sampling_ratio"].toInt(),
               ctx->saved_data["aligned"].toBool()};
    at::Tensor grad_input = roi_align_backward(grad_outputs[0], rois, g, shape);
    return {grad_input, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" {

int ct_roi_align(ct_tensor input, ct_tensor rois, int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                 int64_t sampling_ratio, int32_t aligned, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &x = unwrap(input);
    const at::Tensor &r = unwrap(rois);
    TORCH_CHECK(x.dim() == 4, "roi_align expects NCHW features, got ", x.dim(), " dimensions");
    TORCH_CHECK(r.dim() == 2 && r.size(1) == 5, "roi_align expects RoIs of shape [K, 5], got ", r.sizes());
    TORCH_CHECK(x.device().is_cpu(), "roi_align has a CPU kernel only");
    TORCH_CHECK(pooled_h > 0 && pooled_w > 0, "roi_align output size must be positive");
    // bf16/fp16 features are pooled in float32 and converted back, as autocast would do.
    const bool reduced = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
    // One conversion to float32 NCHW: `to` alone keeps channels-last, and the kernel's
    // `contiguous()` would copy the feature map a second time.
    at::Tensor features = reduced ? x.to(at::kFloat, false, false, at::MemoryFormat::Contiguous) : x;
    auto result = RoIAlignFunction::apply(features, r.detach(), pooled_h, pooled_w, spatial_scale, sampling_ratio,
                                          aligned != 0)[0];
    *out = wrap(reduced ? result.to(x.scalar_type()) : result);
  })
}

}  // extern "C"
