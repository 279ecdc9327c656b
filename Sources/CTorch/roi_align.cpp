// RoIAlign (He et al., Mask R-CNN): bilinear sampling of feature-map regions into a fixed grid,
// with its backward pass, registered with libtorch's autograd. libtorch has no such kernel.
//
// Conventions follow torchvision's roi_align: rois are [K, 5] rows (batch index, x1, y1, x2, y2)
// in input-image coordinates, scaled by `spatial_scale`; `aligned` shifts sample points by half
// a pixel (the correct convention), and without it RoIs are at least one pixel wide (legacy).
// Features may be NCHW or channels-last in memory; each layout has its own pair of kernels, with
// the same arithmetic, and the output is NCHW either way.
#include "libtorch_check.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

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

  int64_t plane() const { return height * width; }
  int64_t bins() const { return pooled_h * pooled_w; }
};

// Inner loops of the channels-last kernels: one sample point's four taps applied to a run of
// contiguous channels. Contraction into FMA is off so that every channel sees exactly the
// arithmetic of the NCHW kernel (same products, same order of additions), hence the same bits.
template <typename T>
inline __attribute__((always_inline)) void gather_taps(T *__restrict acc, const T *src, const int64_t *offset,
                                                       const T *weight, int64_t n) {
#ifdef __clang__
#pragma clang fp contract(off)
#endif
  const T *p0 = src + offset[0], *p1 = src + offset[1], *p2 = src + offset[2], *p3 = src + offset[3];
  const T w0 = weight[0], w1 = weight[1], w2 = weight[2], w3 = weight[3];
  for (int64_t c = 0; c < n; ++c) acc[c] += w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c];
}

// Taps are applied one after another, so coinciding offsets (a point clamped to the border)
// accumulate in the NCHW kernel's order.
template <typename T>
inline __attribute__((always_inline)) void scatter_taps(T *dst, const int64_t *offset, const T *weight,
                                                        const T *__restrict share, int64_t n) {
#ifdef __clang__
#pragma clang fp contract(off)
#endif
  for (int k = 0; k < 4; ++k) {
    T *__restrict d = dst + offset[k];
    const T w = weight[k];
    for (int64_t c = 0; c < n; ++c) d[c] += w * share[c];
  }
}

// The loops built for AVX-512 and AVX2 as well as the baseline, chosen when the library loads
// (the shim is otherwise compiled for baseline x86-64, four floats per instruction).
#if defined(__x86_64__) && defined(__clang__)
#define CT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_VECTOR_CLONES
#endif

CT_VECTOR_CLONES void gather_channels(float *acc, const float *src, const int64_t *offset, const float *weight,
                                      int64_t n) {
  gather_taps(acc, src, offset, weight, n);
}
CT_VECTOR_CLONES void gather_channels(double *acc, const double *src, const int64_t *offset, const double *weight,
                                      int64_t n) {
  gather_taps(acc, src, offset, weight, n);
}
CT_VECTOR_CLONES void scatter_channels(float *dst, const int64_t *offset, const float *weight, const float *share,
                                       int64_t n) {
  scatter_taps(dst, offset, weight, share, n);
}
CT_VECTOR_CLONES void scatter_channels(double *dst, const int64_t *offset, const double *weight,
                                       const double *share, int64_t n) {
  scatter_taps(dst, offset, weight, share, n);
}

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

// Calls body(n, image, samples_per_bin, divisor) for RoIs [begin, end) after filling `taps`
// with RoI n's taps; checks that each RoI names an image of the batch.
template <typename T, typename Body>
void for_each_roi(const at::Tensor &rois, const Geometry &g, int64_t batch, int64_t begin, int64_t end,
                  std::vector<Tap<T>> &taps, Body &&body) {
  const T *r = rois.data_ptr<T>();
  for (int64_t n = begin; n < end; ++n) {
    const T *roi = r + n * 5;
    const int64_t b = static_cast<int64_t>(roi[0]);
    TORCH_CHECK(b >= 0 && b < batch, "roi_align: RoI ", n, " names image ", b, " but the batch has ", batch);
    int64_t grid_h, grid_w;
    const int64_t count = taps_for_roi(roi, g, taps, grid_h, grid_w);
    body(n, b, grid_h * grid_w, count);
  }
}

template <typename T>
void forward_kernel(const at::Tensor &input, const at::Tensor &rois, const Geometry &g, at::Tensor &output) {
  const int64_t channels = input.size(1), plane = g.plane(), bins = g.bins();
  const T *in = input.data_ptr<T>();
  T *out = output.data_ptr<T>();
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    for_each_roi(rois, g, input.size(0), begin, end, taps, [&](int64_t n, int64_t b, int64_t per_bin, int64_t count) {
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
    });
  });
}

// Gradients of different channels never touch the same memory, so channels run in parallel; the
// taps of each RoI are recomputed per task rather than stored for all RoIs.
template <typename T>
void backward_kernel(const at::Tensor &grad_output, const at::Tensor &rois, const Geometry &g, at::Tensor &grad_input) {
  const int64_t channels = grad_input.size(1), plane = g.plane(), bins = g.bins();
  const T *go = grad_output.data_ptr<T>();
  T *gi = grad_input.data_ptr<T>();
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    for_each_roi(rois, g, grad_input.size(0), 0, rois.size(0), taps,
                 [&](int64_t n, int64_t b, int64_t per_bin, int64_t count) {
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
                 });
  });
}

// A tap's plane offsets as offsets into channels-last memory, where each pixel holds C values.
template <typename T>
std::array<int64_t, 4> channels_last_offsets(const Tap<T> &tap, int64_t channels) {
  return {tap.offset[0] * channels, tap.offset[1] * channels, tap.offset[2] * channels, tap.offset[3] * channels};
}

// Channels-last features ([N, H, W, C] in memory, as the convolutions leave them): each tap
// reads a run of C contiguous values, so the loops run over channels. Output stays [K, C, h, w]
// contiguous, what the box head flattens; each RoI is pooled into a bins × C buffer first.
template <typename T>
void forward_channels_last_kernel(const at::Tensor &input, const at::Tensor &rois, const Geometry &g,
                                  at::Tensor &output) {
  const int64_t channels = input.size(1), plane = g.plane(), bins = g.bins();
  const T *in = input.data_ptr<T>();
  T *out = output.data_ptr<T>();
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    std::vector<T> pooled(static_cast<size_t>(bins * channels));
    for_each_roi(rois, g, input.size(0), begin, end, taps, [&](int64_t n, int64_t b, int64_t per_bin, int64_t count) {
      const T *src = in + b * plane * channels;
      std::fill(pooled.begin(), pooled.end(), T(0));
      const Tap<T> *tap = taps.data();
      for (int64_t bin = 0; bin < bins; ++bin) {
        for (int64_t s = 0; s < per_bin; ++s, ++tap) {
          gather_channels(pooled.data() + bin * channels, src, channels_last_offsets(*tap, channels).data(),
                          tap->weight, channels);
        }
      }
      T *dst = out + n * channels * bins;
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t bin = 0; bin < bins; ++bin) dst[c * bins + bin] = pooled[bin * channels + c] / T(count);
      }
    });
  });
}

// The gradient of channels-last features, itself channels-last. Threads own disjoint runs of
// channels (no two write the same memory); each RoI's output gradient is first transposed into
// a bins × channels buffer, divided by the sample count as the NCHW kernel does.
template <typename T>
void backward_channels_last_kernel(const at::Tensor &grad_output, const at::Tensor &rois, const Geometry &g,
                                   at::Tensor &grad_input) {
  const int64_t channels = grad_input.size(1), plane = g.plane(), bins = g.bins();
  const T *go = grad_output.data_ptr<T>();
  T *gi = grad_input.data_ptr<T>();
  at::parallel_for(0, channels, 16, [&](int64_t begin, int64_t end) {
    const int64_t width = end - begin;
    std::vector<Tap<T>> taps;
    std::vector<T> share(static_cast<size_t>(bins * width));
    for_each_roi(rois, g, grad_input.size(0), 0, rois.size(0), taps,
                 [&](int64_t n, int64_t b, int64_t per_bin, int64_t count) {
                   const T *src = go + n * channels * bins;
                   for (int64_t c = begin; c < end; ++c) {
                     for (int64_t bin = 0; bin < bins; ++bin) {
                       share[bin * width + (c - begin)] = src[c * bins + bin] / T(count);
                     }
                   }
                   T *dst = gi + b * plane * channels + begin;
                   const Tap<T> *tap = taps.data();
                   for (int64_t bin = 0; bin < bins; ++bin) {
                     for (int64_t s = 0; s < per_bin; ++s, ++tap) {
                       scatter_channels(dst, channels_last_offsets(*tap, channels).data(), tap->weight,
                                        share.data() + bin * width, width);
                     }
                   }
                 });
  });
}

// Whether to use the channels-last kernels: features laid out [N, H, W, C] in memory and not
// also plain contiguous (one channel, or 1×1 maps, are both).
bool is_channels_last(const at::Tensor &input) {
  return !input.is_contiguous() && input.is_contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor roi_align_forward(const at::Tensor &input, const at::Tensor &rois, const Geometry &g) {
  const bool channels_last = is_channels_last(input);
  at::Tensor in = channels_last ? input : input.contiguous();
  at::Tensor r = rois.to(in.scalar_type()).contiguous();
  // Both kernels write every output element.
  at::Tensor output = at::empty({r.size(0), in.size(1), g.pooled_h, g.pooled_w}, in.options());
  if (r.size(0) == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "roi_align_forward", [&] {
    if (channels_last) {
      forward_channels_last_kernel<scalar_t>(in, r, g, output);
    } else {
      forward_kernel<scalar_t>(in, r, g, output);
    }
  });
  return output;
}

at::Tensor roi_align_backward(const at::Tensor &grad_output, const at::Tensor &rois, const Geometry &g,
                              at::IntArrayRef input_shape, bool channels_last) {
  at::Tensor go = grad_output.contiguous();
  at::Tensor r = rois.to(go.scalar_type()).contiguous();
  const auto layout = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  at::Tensor grad_input = at::empty(input_shape, go.options(), layout).zero_();
  if (r.size(0) == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "roi_align_backward", [&] {
    if (channels_last) {
      backward_channels_last_kernel<scalar_t>(go, r, g, grad_input);
    } else {
      backward_kernel<scalar_t>(go, r, g, grad_input);
    }
  });
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
    ctx->saved_data["channels_last"] = is_channels_last(input);
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
    at::Tensor grad_input =
        roi_align_backward(grad_outputs[0], rois, g, shape, ctx->saved_data["channels_last"].toBool());
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
    // `to` keeps the layout, which the kernels read as it is.
    at::Tensor features = reduced ? x.to(at::kFloat) : x;
    auto result = RoIAlignFunction::apply(features, r.detach(), pooled_h, pooled_w, spatial_scale, sampling_ratio,
                                          aligned != 0)[0];
    *out = wrap(reduced ? result.to(x.scalar_type()) : result);
  })
}

}  // extern "C"
