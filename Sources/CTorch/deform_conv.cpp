// Deformable convolution: v1 (Dai et al. 2017, learned offsets per kernel tap) and v2 (Zhu et al.
// 2019, offsets and a modulation mask), with the backward pass for all five inputs, registered
// with libtorch's autograd. libtorch has no such kernel.
//
// The arguments and numerics are torchvision's `deform_conv2d`: offsets [N, 2·G·kh·kw, Ho, Wo]
// hold (dy, dx) pairs per offset group G and kernel tap (row-major over kh, kw); the mask
// [N, G·kh·kw, Ho, Wo] scales each sample; a sample at (y, x) reads the input bilinearly, corners
// outside the map counting as zero, and a point one pixel or more outside reads nothing. mmcv's
// DCN and DCNv2 use the same layout.
//
// The kernel works in channels-last memory whatever the input's layout: a sample point's four
// corners then hold runs of contiguous channels, so sampling is a vector loop over channels (as
// in the channels-last RoIAlign kernels), and the sampled "columns" [Ho·Wo, kh·kw·C] times the
// weight give the output directly in channels-last order, by one matrix product per group.
#include "libtorch_check.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "internal.h"

using namespace ctorch;

namespace {

struct DeformGeometry {
  int64_t batch, channels, height, width;
  int64_t out_channels, kernel_h, kernel_w;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t groups, offset_groups;
  int64_t out_h, out_w;

  int64_t taps() const { return kernel_h * kernel_w; }
  int64_t positions() const { return out_h * out_w; }
  int64_t group_channels() const { return channels / groups; }
  int64_t offset_group_channels() const { return channels / offset_groups; }
  // Column entries per output position: group-major, then tap, then the group's channels.
  int64_t row() const { return taps() * channels; }
};

// A sample point's four corners (pixel indices into an H×W plane) with their bilinear weights,
// and the weights of the value's derivatives along y and x. Corners outside the map have all
// weights zero (and index 0, read times zero).
template <typename T>
struct Corners {
  int64_t index[4];
  T weight[4];
  T dy[4];
  T dx[4];
};

// Returns false when the point reads nothing and moving it up or right reads nothing either
// (more than one pixel outside, or at or beyond the far edge). A point exactly one pixel before
// the map reads zero but, as in torchvision, has the derivative of moving into it: the
// derivatives are one-sided from above everywhere, as the floor-based weights make them.
template <typename T>
inline bool corners_of(T y, T x, int64_t height, int64_t width, Corners<T> &c) {
  if (y < T(-1) || y >= T(height) || x < T(-1) || x >= T(width)) return false;
  const T yf = std::floor(y), xf = std::floor(x);
  const int64_t y0 = static_cast<int64_t>(yf), x0 = static_cast<int64_t>(xf);
  const int64_t y1 = y0 + 1, x1 = x0 + 1;
  const T ly = y - yf, lx = x - xf, hy = T(1) - ly, hx = T(1) - lx;
  const bool valid[4] = {y0 >= 0 && x0 >= 0, y0 >= 0 && x1 <= width - 1, y1 <= height - 1 && x0 >= 0,
                         y1 <= height - 1 && x1 <= width - 1};
  const int64_t index[4] = {y0 * width + x0, y0 * width + x1, y1 * width + x0, y1 * width + x1};
  const T weight[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
  const T dy[4] = {-hx, -lx, hx, lx};
  const T dx[4] = {-hy, hy, -ly, ly};
  for (int k = 0; k < 4; ++k) {
    c.index[k] = valid[k] ? index[k] : 0;
    c.weight[k] = valid[k] ? weight[k] : T(0);
    c.dy[k] = valid[k] ? dy[k] : T(0);
    c.dx[k] = valid[k] ? dx[k] : T(0);
  }
  return true;
}

#if defined(__x86_64__) && defined(__clang__)
#define CT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_VECTOR_CLONES
#endif

// dst[c] = scale · Σ_k w_k · src[index_k·C + c] for a run of n channels.
template <typename T>
inline __attribute__((always_inline)) void sample_run(T *__restrict dst, const T *src, int64_t stride,
                                                      const int64_t *index, const T *w, T scale, int64_t n) {
  const T *p0 = src + index[0] * stride, *p1 = src + index[1] * stride;
  const T *p2 = src + index[2] * stride, *p3 = src + index[3] * stride;
  const T w0 = w[0] * scale, w1 = w[1] * scale, w2 = w[2] * scale, w3 = w[3] * scale;
  for (int64_t c = 0; c < n; ++c) dst[c] = w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c];
}

// src[index_k·C + c] += w_k · scale · grad[c] for a run of n channels.
template <typename T>
inline __attribute__((always_inline)) void spread_run(T *dst, int64_t stride, const int64_t *index, const T *w, T scale,
                                                      const T *__restrict grad, int64_t n) {
  for (int k = 0; k < 4; ++k) {
    if (w[k] == T(0)) continue;
    T *__restrict d = dst + index[k] * stride;
    const T s = w[k] * scale;
    for (int64_t c = 0; c < n; ++c) d[c] += s * grad[c];
  }
}

// Σ_c grad[c] · (value, d value/dy, d value/dx)[c] over a run of n channels.
template <typename T>
inline __attribute__((always_inline)) void reduce_run(const T *src, int64_t stride, const Corners<T> &k,
                                                      const T *__restrict grad, int64_t n, T &value, T &dy, T &dx) {
  const T *p[4] = {src + k.index[0] * stride, src + k.index[1] * stride, src + k.index[2] * stride,
                   src + k.index[3] * stride};
  T v = 0, gy = 0, gx = 0;
  for (int64_t c = 0; c < n; ++c) {
    const T a = p[0][c], b = p[1][c], d = p[2][c], e = p[3][c];
    v += grad[c] * (k.weight[0] * a + k.weight[1] * b + k.weight[2] * d + k.weight[3] * e);
    gy += grad[c] * (k.dy[0] * a + k.dy[1] * b + k.dy[2] * d + k.dy[3] * e);
    gx += grad[c] * (k.dx[0] * a + k.dx[1] * b + k.dx[2] * d + k.dx[3] * e);
  }
  value += v;
  dy += gy;
  dx += gx;
}

CT_VECTOR_CLONES void sample_channels(float *dst, const float *src, int64_t stride, const int64_t *index,
                                      const float *w, float scale, int64_t n) {
  sample_run(dst, src, stride, index, w, scale, n);
}
CT_VECTOR_CLONES void sample_channels(double *dst, const double *src, int64_t stride, const int64_t *index,
                                      const double *w, double scale, int64_t n) {
  sample_run(dst, src, stride, index, w, scale, n);
}
CT_VECTOR_CLONES void spread_channels(float *dst, int64_t stride, const int64_t *index, const float *w, float scale,
                                      const float *grad, int64_t n) {
  spread_run(dst, stride, index, w, scale, grad, n);
}
CT_VECTOR_CLONES void spread_channels(double *dst, int64_t stride, const int64_t *index, const double *w,
                                      double scale, const double *grad, int64_t n) {
  spread_run(dst, stride, index, w, scale, grad, n);
}
CT_VECTOR_CLONES void reduce_channels(const float *src, int64_t stride, const Corners<float> &k, const float *grad,
                                      int64_t n, float &value, float &dy, float &dx) {
  reduce_run(src, stride, k, grad, n, value, dy, dx);
}
CT_VECTOR_CLONES void reduce_channels(const double *src, int64_t stride, const Corners<double> &k,
                                      const double *grad, int64_t n, double &value, double &dy, double &dx) {
  reduce_run(src, stride, k, grad, n, value, dy, dx);
}

// Where output position p's tap t of offset group g samples, and its mask value.
template <typename T>
struct SamplePoint {
  const DeformGeometry &g;
  const T *offset;  // image n's [2·G·taps, Ho, Wo]
  const T *mask;    // image n's [G·taps, Ho, Wo], or null

  void operator()(int64_t p, int64_t tap, int64_t group, T &y, T &x, T &m) const {
    const int64_t oy = p / g.out_w, ox = p % g.out_w;
    const int64_t i = tap / g.kernel_w, j = tap % g.kernel_w;
    const int64_t plane = g.positions();
    const int64_t channel = 2 * (group * g.taps() + tap);
    y = T(oy * g.stride_h - g.pad_h + i * g.dilation_h) + offset[channel * plane + p];
    x = T(ox * g.stride_w - g.pad_w + j * g.dilation_w) + offset[(channel + 1) * plane + p];
    m = mask ? mask[(group * g.taps() + tap) * plane + p] : T(1);
  }
};

// Image n's columns [positions, row]: every output position's masked samples, in column order.
template <typename T>
void fill_columns(const DeformGeometry &g, const T *input, const SamplePoint<T> &at, T *columns) {
  const int64_t C = g.channels, Cg = g.group_channels(), Cd = g.offset_group_channels(), taps = g.taps();
  at::parallel_for(0, g.positions(), 16, [&](int64_t begin, int64_t end) {
    std::vector<T> samples(static_cast<size_t>(C));
    Corners<T> k;
    for (int64_t p = begin; p < end; ++p) {
      T *row = columns + p * g.row();
      for (int64_t tap = 0; tap < taps; ++tap) {
        for (int64_t og = 0; og < g.offset_groups; ++og) {
          T y, x, m;
          at(p, tap, og, y, x, m);
          T *dst = samples.data() + og * Cd;
          if (corners_of(y, x, g.height, g.width, k)) {
            sample_channels(dst, input + og * Cd, C, k.index, k.weight, m, Cd);
          } else {
            std::fill(dst, dst + Cd, T(0));
          }
        }
        for (int64_t group = 0; group < g.groups; ++group) {
          std::copy(samples.data() + group * Cg, samples.data() + (group + 1) * Cg,
                    row + (group * taps + tap) * Cg);
        }
      }
    }
  });
}

// Output [N, Ho, Wo, O] (channels-last storage) of channels-last input [N, H, W, C].
template <typename T>
at::Tensor forward_kernel(const DeformGeometry &g, const at::Tensor &input, const at::Tensor &offset,
                          const at::Tensor &mask, const at::Tensor &weight_rows, const at::Tensor &bias) {
  const int64_t P = g.positions(), O = g.out_channels, Og = O / g.groups, width = g.taps() * g.group_channels();
  at::Tensor output = at::empty({g.batch, P, O}, input.options());
  at::Tensor columns = at::empty({P, g.row()}, input.options());
  for (int64_t n = 0; n < g.batch; ++n) {
    SamplePoint<T> at_point{g, offset.data_ptr<T>() + n * offset.stride(0),
                            mask.defined() ? mask.data_ptr<T>() + n * mask.stride(0) : nullptr};
    fill_columns(g, input.data_ptr<T>() + n * g.height * g.width * g.channels, at_point, columns.data_ptr<T>());
    if (g.groups == 1) {
      at::Tensor out = output[n];
      at::mm_out(out, columns, weight_rows.t());
      continue;
    }
    for (int64_t group = 0; group < g.groups; ++group) {
      at::Tensor cols = columns.narrow(1, group * width, width);
      at::Tensor out = output[n].narrow(1, group * Og, Og);
      out.copy_(at::mm(cols, weight_rows.narrow(0, group * Og, Og).t()));
    }
  }
  if (bias.defined()) output.add_(bias);
  return output;
}

struct Gradients {
  at::Tensor input, offset, mask, weight_rows, bias;
};

template <typename T>
Gradients backward_kernel(const DeformGeometry &g, const at::Tensor &grad_output, const at::Tensor &input,
                          const at::Tensor &offset, const at::Tensor &mask, const at::Tensor &weight_rows,
                          bool need_bias) {
  const int64_t P = g.positions(), O = g.out_channels, Og = O / g.groups, C = g.channels;
  const int64_t Cg = g.group_channels(), Cd = g.offset_group_channels(), taps = g.taps(), width = taps * Cg;
  const int64_t plane = g.height * g.width;
  Gradients out;
  out.input = at::zeros({g.batch, g.height, g.width, C}, input.options());
  out.offset = at::zeros_like(offset);
  if (mask.defined()) out.mask = at::zeros_like(mask);
  out.weight_rows = at::zeros_like(weight_rows);
  at::Tensor columns = at::empty({P, g.row()}, input.options());
  at::Tensor grad_columns = at::empty({P, g.row()}, input.options());
  for (int64_t n = 0; n < g.batch; ++n) {
    const T *in = input.data_ptr<T>() + n * plane * C;
    SamplePoint<T> at_point{g, offset.data_ptr<T>() + n * offset.stride(0),
                            mask.defined() ? mask.data_ptr<T>() + n * mask.stride(0) : nullptr};
    fill_columns(g, in, at_point, columns.data_ptr<T>());
    const at::Tensor go = grad_output[n];  // [P, O]
    for (int64_t group = 0; group < g.groups; ++group) {
      at::Tensor go_g = go.narrow(1, group * Og, Og);
      out.weight_rows.narrow(0, group * Og, Og).add_(at::mm(go_g.t(), columns.narrow(1, group * width, width)));
      grad_columns.narrow(1, group * width, width).copy_(at::mm(go_g, weight_rows.narrow(0, group * Og, Og)));
    }
    const T *gc = grad_columns.data_ptr<T>();

    // Offsets and mask: each (position, tap, offset group) reduces over its channels; positions
    // are independent.
    T *goff = out.offset.data_ptr<T>() + n * out.offset.stride(0);
    T *gmask = mask.defined() ? out.mask.data_ptr<T>() + n * out.mask.stride(0) : nullptr;
    at::parallel_for(0, P, 16, [&](int64_t begin, int64_t end) {
      std::vector<T> grads(static_cast<size_t>(C));
      Corners<T> k;
      for (int64_t p = begin; p < end; ++p) {
        for (int64_t tap = 0; tap < taps; ++tap) {
          for (int64_t group = 0; group < g.groups; ++group) {
            const T *src = gc + p * g.row() + (group * taps + tap) * Cg;
            std::copy(src, src + Cg, grads.data() + group * Cg);
          }
          for (int64_t og = 0; og < g.offset_groups; ++og) {
            T y, x, m;
            at_point(p, tap, og, y, x, m);
            if (!corners_of(y, x, g.height, g.width, k)) continue;
            T value = 0, dy = 0, dx = 0;
            reduce_channels(in + og * Cd, C, k, grads.data() + og * Cd, Cd, value, dy, dx);
            const int64_t channel = 2 * (og * taps + tap);
            goff[channel * P + p] = m * dy;
            goff[(channel + 1) * P + p] = m * dx;
            if (gmask) gmask[(og * taps + tap) * P + p] = value;
          }
        }
      }
    });

    // The input: threads own disjoint runs of channels, so no two write the same memory.
    T *gi = out.input.data_ptr<T>() + n * plane * C;
    at::parallel_for(0, C, 16, [&](int64_t begin, int64_t end) {
      std::vector<T> grads(static_cast<size_t>(end - begin));
      Corners<T> k;
      for (int64_t p = 0; p < P; ++p) {
        for (int64_t tap = 0; tap < taps; ++tap) {
          for (int64_t og = 0; og < g.offset_groups; ++og) {
            const int64_t lo = std::max(begin, og * Cd), hi = std::min(end, (og + 1) * Cd);
            if (lo >= hi) continue;
            T y, x, m;
            at_point(p, tap, og, y, x, m);
            if (!corners_of(y, x, g.height, g.width, k)) continue;
            for (int64_t c = lo; c < hi; ++c) {
              grads[c - lo] = gc[p * g.row() + ((c / Cg) * taps + tap) * Cg + c % Cg];
            }
            spread_channels(gi + lo, C, k.index, k.weight, m, grads.data(), hi - lo);
          }
        }
      }
    });
  }
  if (need_bias) out.bias = grad_output.sum({0, 1});
  return out;
}

// The weight [O, C/groups, kh, kw] as rows [O, kh·kw·C/groups] in column order.
at::Tensor weight_as_rows(const at::Tensor &weight) {
  return weight.permute({0, 2, 3, 1}).reshape({weight.size(0), -1}).contiguous();
}

at::Tensor rows_as_weight(const at::Tensor &rows, at::IntArrayRef shape) {
  return rows.view({shape[0], shape[2], shape[3], shape[1]}).permute({0, 3, 1, 2}).contiguous();
}

DeformGeometry geometry(const at::Tensor &input, const at::Tensor &weight, const at::Tensor &offset,
                        const at::Tensor &mask, const at::Tensor &bias, const int64_t *s, const int64_t *p,
                        const int64_t *d, int64_t groups) {
  TORCH_CHECK(input.dim() == 4, "deform_conv2d expects NCHW input, got ", input.dim(), " dimensions");
  TORCH_CHECK(weight.dim() == 4, "deform_conv2d expects a weight [O, C/groups, kh, kw], got ", weight.sizes());
  TORCH_CHECK(groups > 0, "deform_conv2d: groups must be positive");
  TORCH_CHECK(s[0] > 0 && s[1] > 0 && d[0] > 0 && d[1] > 0 && p[0] >= 0 && p[1] >= 0,
              "deform_conv2d: strides and dilations must be positive and padding non-negative");
  DeformGeometry g{};
  g.batch = input.size(0);
  g.channels = input.size(1);
  g.height = input.size(2);
  g.width = input.size(3);
  g.out_channels = weight.size(0);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = s[0], g.stride_w = s[1], g.pad_h = p[0], g.pad_w = p[1], g.dilation_h = d[0], g.dilation_w = d[1];
  g.groups = groups;
  TORCH_CHECK(g.channels % groups == 0 && weight.size(1) * groups == g.channels,
              "deform_conv2d: the weight ", weight.sizes(), " does not fit ", g.channels, " input channels in ", groups,
              " groups");
  TORCH_CHECK(g.out_channels % groups == 0, "deform_conv2d: ", g.out_channels, " output channels in ", groups,
              " groups");
  g.out_h = (g.height + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
  g.out_w = (g.width + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  TORCH_CHECK(g.out_h > 0 && g.out_w > 0, "deform_conv2d: the input ", input.sizes(), " is smaller than the kernel");
  TORCH_CHECK(offset.dim() == 4 && offset.size(0) == g.batch && offset.size(1) % (2 * g.taps()) == 0 &&
                  offset.size(1) > 0 && offset.size(2) == g.out_h && offset.size(3) == g.out_w,
              "deform_conv2d: offsets must be [", g.batch, ", 2·groups·", g.taps(), ", ", g.out_h, ", ", g.out_w,
              "], got ", offset.sizes());
  g.offset_groups = offset.size(1) / (2 * g.taps());
  TORCH_CHECK(g.channels % g.offset_groups == 0, "deform_conv2d: ", g.channels, " channels in ", g.offset_groups,
              " offset groups");
  if (mask.defined()) {
    TORCH_CHECK(mask.dim() == 4 && mask.size(0) == g.batch && mask.size(1) == g.offset_groups * g.taps() &&
                    mask.size(2) == g.out_h && mask.size(3) == g.out_w,
                "deform_conv2d: the mask must be [", g.batch, ", ", g.offset_groups * g.taps(), ", ", g.out_h, ", ",
                g.out_w, "], got ", mask.sizes());
  }
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == g.out_channels, "deform_conv2d: the bias must be [",
                g.out_channels, "], got ", bias.sizes());
  }
  return g;
}

struct DeformConvFunction : public torch::autograd::Function<DeformConvFunction> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext *ctx, const at::Tensor &input,
                                                const at::Tensor &offset, const at::Tensor &mask_or_empty,
                                                const at::Tensor &weight, const at::Tensor &bias_or_empty,
                                                std::vector<int64_t> settings) {
    at::AutoDispatchBelowADInplaceOrView guard;
    const int64_t *s = settings.data();
    // Absent masks and biases arrive as empty tensors (autograd's apply wants defined inputs).
    const at::Tensor mask = mask_or_empty.numel() > 0 ? mask_or_empty : at::Tensor();
    const at::Tensor bias = bias_or_empty.numel() > 0 ? bias_or_empty : at::Tensor();
    DeformGeometry g = geometry(input, weight, offset, mask, bias, s, s + 2, s + 4, s[6]);
    // Channels-last input: [N, H, W, C] contiguous, viewed as such.
    at::Tensor in = input.permute({0, 2, 3, 1}).contiguous();
    at::Tensor off = offset.contiguous();
    at::Tensor m = mask.defined() ? mask.contiguous() : at::Tensor();
    at::Tensor rows = weight_as_rows(weight);
    at::Tensor output;
    AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "deform_conv2d_forward", [&] {
      output = forward_kernel<scalar_t>(g, in, off, m, rows, bias);
    });
    ctx->save_for_backward({in, off, m.defined() ? m : mask_or_empty, rows, bias.defined() ? bias : bias_or_empty});
    ctx->saved_data["settings"] = settings;
    ctx->saved_data["weight_shape"] = weight.sizes().vec();
    ctx->saved_data["input_shape"] = input.sizes().vec();
    // [N, Ho·Wo, O] is channels-last memory of the NCHW output.
    return {output.view({g.batch, g.out_h, g.out_w, g.out_channels}).permute({0, 3, 1, 2})};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &in = saved[0], &off = saved[1], &rows = saved[3];
    const at::Tensor m = saved[2].numel() > 0 ? saved[2] : at::Tensor();
    const at::Tensor bias = saved[4].numel() > 0 ? saved[4] : at::Tensor();
    auto settings = ctx->saved_data["settings"].toIntVector();
    auto weight_shape = ctx->saved_data["weight_shape"].toIntVector();
    auto input_shape = ctx->saved_data["input_shape"].toIntVector();
    const int64_t *s = settings.data();
    // The geometry from the saved shapes: an NCHW view of the channels-last input suffices.
    at::Tensor weight_view = at::empty(weight_shape, rows.options());
    DeformGeometry g = geometry(in.permute({0, 3, 1, 2}), weight_view, off, m, bias, s, s + 2, s + 4, s[6]);
    at::Tensor go = grad_outputs[0].permute({0, 2, 3, 1}).contiguous().view({g.batch, g.positions(), g.out_channels});
    Gradients grads;
    AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "deform_conv2d_backward", [&] {
      grads = backward_kernel<scalar_t>(g, go, in, off, m, rows, bias.defined());
    });
    return {grads.input.permute({0, 3, 1, 2}),
            grads.offset,
            grads.mask,
            rows_as_weight(grads.weight_rows, weight_shape),
            grads.bias,
            at::Tensor()};
  }
};

}  // namespace

extern "C" {

int ct_deform_conv2d(ct_tensor input, ct_tensor offset, ct_tensor mask, ct_tensor weight, ct_tensor bias,
                     const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups,
                     ct_tensor *out) {
  CT_TRY({
    const at::Tensor &x = unwrap(input);
    TORCH_CHECK(x.defined() && unwrap(offset).defined() && unwrap(weight).defined(),
                "deform_conv2d needs an input, offsets and a weight");
    TORCH_CHECK(x.device().is_cpu(), "deform_conv2d has a CPU kernel only");
    // bf16/fp16 tensors are computed in float32 and converted back, as autocast would do.
    const bool reduced = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
    const auto type = reduced ? at::kFloat : x.scalar_type();
    auto cast = [&](const at::Tensor &t) { return t.defined() ? t.to(type) : at::empty({0}, x.options().dtype(type)); };
    std::vector<int64_t> settings{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups};
    auto result = DeformConvFunction::apply(cast(x), cast(unwrap(offset)), cast(unwrap(mask)), cast(unwrap(weight)),
                                            cast(unwrap(bias)), settings)[0];
    *out = wrap(reduced ? result.to(x.scalar_type()) : result);
  })
}

}  // extern "C"
