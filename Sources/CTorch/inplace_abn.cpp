// In-place activated batch norm (Rota Bulò et al. 2018, InPlace-ABN): batch normalisation and a
// leaky ReLU (or no activation) as one autograd node that keeps only its output for backward.
// Backward inverts the activation and the affine transform to recover the normalised input,
// so the layer's input (a convolution's output, usually) is not kept alive at all.
//
// On the CPU, for float32, float64 and bfloat16 tensors laid out NCHW-contiguous or channels-last,
// the node runs fused kernels:
//   forward:  per channel, the mean and then the variance (two reads, accumulated in float within
//             a run of elements and in double across runs; all double for float64), then one pass
//             that writes leaky_relu(a·x + b) over the input itself when the input is an
//             intermediate of the graph (see `may_overwrite`), into a new tensor otherwise;
//   backward: one pass computing Σdy and Σdy·(y − β) per channel from the saved output (the
//             leaky ReLU inverted on the fly: y = z or z/slope, dy = dz or dz·slope), then one
//             pass writing dx = k·dy + c0 + c1·(y − β). No full-size temporaries besides dx.
// NCHW work is split over channels (each thread owns whole channels); channels-last work over
// rows of C contiguous values, with per-chunk partial sums, and the inner loops run over C.
// Other devices and dtypes (float16) take the element-wise path built from libtorch operations
// (float32 temporaries of the whole activation), which is also the reference the kernels follow.
#include "libtorch_check.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "internal.h"
#include "process_group.h"

using namespace ctorch;
using torch::autograd::variable_list;

namespace {

// ---------------------------------------------------------------------------------------------
// Element access. Storage is float, double, or bfloat16 held as uint16_t; arithmetic is float
// (double for double). The bfloat16 conversions are c10's (round to nearest even, NaN to
// 0x7FC0), written on integers so that the loops vectorise.

inline __attribute__((always_inline)) float load(const float *p, int64_t i) { return p[i]; }
inline __attribute__((always_inline)) double load(const double *p, int64_t i) { return p[i]; }
inline __attribute__((always_inline)) float load(const uint16_t *p, int64_t i) {
  return std::bit_cast<float>(static_cast<uint32_t>(p[i]) << 16);
}
inline __attribute__((always_inline)) void store(float *p, int64_t i, float v) { p[i] = v; }
inline __attribute__((always_inline)) void store(double *p, int64_t i, double v) { p[i] = v; }
inline __attribute__((always_inline)) void store(uint16_t *p, int64_t i, float v) {
  const uint32_t u = std::bit_cast<uint32_t>(v);
  const uint16_t rounded = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  p[i] = v != v ? uint16_t(0x7FC0) : rounded;
}

template <typename S>
struct Accumulate {
  using type = float;
};
template <>
struct Accumulate<double> {
  using type = double;
};

// leaky_relu(v) of slope `slope` (1: no activation).
template <typename A>
inline __attribute__((always_inline)) A activate(A v, A slope) {
  return v >= A(0) ? v : v * slope;
}

// ---------------------------------------------------------------------------------------------
// Inner loops over a contiguous run of one channel (NCHW). Sums may be reassociated (vector
// lanes); everything else is element-wise.

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) A run_sum(const S *x, int64_t n) {
#pragma clang fp reassociate(on)
  A s = 0;
  for (int64_t i = 0; i < n; ++i) s += load(x, i);
  return s;
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) A run_squared_deviation(const S *x, int64_t n, A mean) {
#pragma clang fp reassociate(on)
  A s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const A d = load(x, i) - mean;
    s += d * d;
  }
  return s;
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void run_forward(const S *__restrict x, S *__restrict y, int64_t n, A a, A b,
                                                       A slope) {
  for (int64_t i = 0; i < n; ++i) store(y, i, activate(a * load(x, i) + b, slope));
}

// The same over one pointer (the output overwrites the input), so that no alias check stops
// vectorisation.
template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void run_forward_in_place(S *x, int64_t n, A a, A b, A slope) {
  for (int64_t i = 0; i < n; ++i) store(x, i, activate(a * load(x, i) + b, slope));
}

// Σdy and Σdy·(y − β), with y and dy recovered from the output z and its gradient dz.
template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void run_gradient_sums(const S *z, const S *dz, int64_t n, A beta, A slope,
                                                             A inverse_slope, A &sum_dy, A &sum_dy_y) {
#pragma clang fp reassociate(on)
  A s1 = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const A zi = load(z, i), gi = load(dz, i);
    const bool positive = zi >= A(0);
    const A y = positive ? zi : zi * inverse_slope;
    const A dy = positive ? gi : gi * slope;
    s1 += dy;
    s2 += dy * (y - beta);
  }
  sum_dy = s1;
  sum_dy_y = s2;
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void run_gradient_input(const S *z, const S *dz, S *__restrict dx, int64_t n,
                                                              A beta, A slope, A inverse_slope, A k, A c0, A c1) {
  for (int64_t i = 0; i < n; ++i) {
    const A zi = load(z, i), gi = load(dz, i);
    const bool positive = zi >= A(0);
    const A y = positive ? zi : zi * inverse_slope;
    const A dy = positive ? gi : gi * slope;
    store(dx, i, k * dy + c0 + c1 * (y - beta));
  }
}

// ---------------------------------------------------------------------------------------------
// Inner loops over rows of C contiguous channels (channels-last), vectorised over C.

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_sum(const S *x, int64_t rows, int64_t C, A *__restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const S *row = x + r * C;
    for (int64_t c = 0; c < C; ++c) acc[c] += load(row, c);
  }
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_squared_deviation(const S *x, int64_t rows, int64_t C,
                                                                  const A *__restrict mean, A *__restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const S *row = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const A d = load(row, c) - mean[c];
      acc[c] += d * d;
    }
  }
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_forward(const S *__restrict x, S *__restrict y, int64_t rows,
                                                        int64_t C, const A *__restrict a, const A *__restrict b,
                                                        A slope) {
  for (int64_t r = 0; r < rows; ++r) {
    const S *in = x + r * C;
    S *out = y + r * C;
    for (int64_t c = 0; c < C; ++c) store(out, c, activate(a[c] * load(in, c) + b[c], slope));
  }
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_forward_in_place(S *x, int64_t rows, int64_t C,
                                                                 const A *__restrict a, const A *__restrict b,
                                                                 A slope) {
  for (int64_t r = 0; r < rows; ++r) {
    S *row = x + r * C;
    for (int64_t c = 0; c < C; ++c) store(row, c, activate(a[c] * load(row, c) + b[c], slope));
  }
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_gradient_sums(const S *z, const S *dz, int64_t rows, int64_t C,
                                                              const A *__restrict beta, A slope, A inverse_slope,
                                                              A *__restrict sum_dy, A *__restrict sum_dy_y) {
  for (int64_t r = 0; r < rows; ++r) {
    const S *zr = z + r * C, *gr = dz + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const A zi = load(zr, c), gi = load(gr, c);
      const bool positive = zi >= A(0);
      const A y = positive ? zi : zi * inverse_slope;
      const A dy = positive ? gi : gi * slope;
      sum_dy[c] += dy;
      sum_dy_y[c] += dy * (y - beta[c]);
    }
  }
}

template <typename S, typename A = typename Accumulate<S>::type>
inline __attribute__((always_inline)) void rows_gradient_input(const S *z, const S *dz, S *__restrict dx,
                                                               int64_t rows, int64_t C, const A *__restrict beta,
                                                               A slope, A inverse_slope, const A *__restrict k,
                                                               const A *__restrict c0, const A *__restrict c1) {
  for (int64_t r = 0; r < rows; ++r) {
    const S *zr = z + r * C, *gr = dz + r * C;
    S *out = dx + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const A zi = load(zr, c), gi = load(gr, c);
      const bool positive = zi >= A(0);
      const A y = positive ? zi : zi * inverse_slope;
      const A dy = positive ? gi : gi * slope;
      store(out, c, k[c] * dy + c0[c] + c1[c] * (y - beta[c]));
    }
  }
}

// The loops built for AVX-512 and AVX2 as well as the baseline, chosen when the library loads
// (the shim is otherwise compiled for baseline x86-64), as in roi_align.cpp and deform_conv.cpp.
#if defined(__x86_64__) && defined(__clang__)
#define CT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CT_VECTOR_CLONES
#endif

// One set of entry points per storage type S with arithmetic type A.
#define CT_IABN_KERNELS(S, A)                                                                                      \
  CT_VECTOR_CLONES A sum_run(const S *x, int64_t n) { return run_sum<S, A>(x, n); }                                \
  CT_VECTOR_CLONES A squared_deviation_run(const S *x, int64_t n, A mean) {                                        \
    return run_squared_deviation<S, A>(x, n, mean);                                                                \
  }                                                                                                                \
  CT_VECTOR_CLONES void forward_run(const S *x, S *y, int64_t n, A a, A b, A slope) {                              \
    if (x == y) {                                                                                                  \
      run_forward_in_place<S, A>(y, n, a, b, slope);                                                               \
    } else {                                                                                                       \
      run_forward<S, A>(x, y, n, a, b, slope);                                                                     \
    }                                                                                                              \
  }                                                                                                                \
  CT_VECTOR_CLONES void gradient_sums_run(const S *z, const S *dz, int64_t n, A beta, A slope, A inverse_slope,    \
                                          A &sum_dy, A &sum_dy_y) {                                                \
    run_gradient_sums<S, A>(z, dz, n, beta, slope, inverse_slope, sum_dy, sum_dy_y);                               \
  }                                                                                                                \
  CT_VECTOR_CLONES void gradient_input_run(const S *z, const S *dz, S *dx, int64_t n, A beta, A slope,             \
                                           A inverse_slope, A k, A c0, A c1) {                                     \
    run_gradient_input<S, A>(z, dz, dx, n, beta, slope, inverse_slope, k, c0, c1);                                 \
  }                                                                                                                \
  CT_VECTOR_CLONES void sum_rows(const S *x, int64_t rows, int64_t C, A *acc) { rows_sum<S, A>(x, rows, C, acc); } \
  CT_VECTOR_CLONES void squared_deviation_rows(const S *x, int64_t rows, int64_t C, const A *mean, A *acc) {       \
    rows_squared_deviation<S, A>(x, rows, C, mean, acc);                                                           \
  }                                                                                                                \
  CT_VECTOR_CLONES void forward_rows(const S *x, S *y, int64_t rows, int64_t C, const A *a, const A *b, A slope) { \
    if (x == y) {                                                                                                  \
      rows_forward_in_place<S, A>(y, rows, C, a, b, slope);                                                        \
    } else {                                                                                                       \
      rows_forward<S, A>(x, y, rows, C, a, b, slope);                                                              \
    }                                                                                                              \
  }                                                                                                                \
  CT_VECTOR_CLONES void gradient_sums_rows(const S *z, const S *dz, int64_t rows, int64_t C, const A *beta,        \
                                           A slope, A inverse_slope, A *sum_dy, A *sum_dy_y) {                     \
    rows_gradient_sums<S, A>(z, dz, rows, C, beta, slope, inverse_slope, sum_dy, sum_dy_y);                        \
  }                                                                                                                \
  CT_VECTOR_CLONES void gradient_input_rows(const S *z, const S *dz, S *dx, int64_t rows, int64_t C,               \
                                            const A *beta, A slope, A inverse_slope, const A *k, const A *c0,      \
                                            const A *c1) {                                                         \
    rows_gradient_input<S, A>(z, dz, dx, rows, C, beta, slope, inverse_slope, k, c0, c1);                          \
  }

CT_IABN_KERNELS(float, float)
CT_IABN_KERNELS(double, double)
CT_IABN_KERNELS(uint16_t, float)
#undef CT_IABN_KERNELS

// ---------------------------------------------------------------------------------------------
// Whole-tensor kernels.

// How a tensor the kernels read is laid out: [N, C, inner] or rows of C ([N, H, W, C]).
struct Shape {
  int64_t batch, channels, inner;
  bool channels_last;

  int64_t count() const { return batch * inner; }  // elements per channel
  int64_t rows() const { return batch * inner; }   // channels-last rows
};

Shape shape_of(const at::Tensor &x, bool channels_last) {
  const int64_t n = x.size(0), c = x.size(1);
  return Shape{n, c, c > 0 && n > 0 ? x.numel() / (n * c) : 0, channels_last};
}

// Channels-last rows are split into at most one chunk per thread (fixed boundaries, so the
// partial sums and their order do not depend on scheduling), and summed in blocks of rows
// whose float partial sums are added into double ones.
constexpr int64_t kBlockRows = 64;

int64_t chunks_for(int64_t rows, int64_t channels) {
  const int64_t by_work = std::max<int64_t>(1, rows * channels / at::internal::GRAIN_SIZE);
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), by_work));
}

// Per-channel totals over rows of the channels-last tensor(s): `block(first_row, rows, acc...)`
// adds `rows` rows into `n_sums` accumulators of C values each; returns n_sums × C doubles.
template <typename A, typename Block>
std::vector<double> channel_totals(const Shape &s, int n_sums, Block &&block) {
  const int64_t C = s.channels, rows = s.rows(), chunks = chunks_for(rows, C);
  std::vector<double> partial(static_cast<size_t>(chunks * n_sums * C), 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> acc(static_cast<size_t>(n_sums * C));
    for (int64_t k = begin; k < end; ++k) {
      double *out = partial.data() + k * n_sums * C;
      const int64_t first = rows * k / chunks, last = rows * (k + 1) / chunks;
      for (int64_t r = first; r < last; r += kBlockRows) {
        std::fill(acc.begin(), acc.end(), A(0));
        block(r, std::min(kBlockRows, last - r), acc.data());
        for (int64_t i = 0; i < n_sums * C; ++i) out[i] += static_cast<double>(acc[static_cast<size_t>(i)]);
      }
    }
  });
  std::vector<double> total(static_cast<size_t>(n_sums * C), 0.0);
  for (int64_t k = 0; k < chunks; ++k) {
    for (int64_t i = 0; i < n_sums * C; ++i) total[static_cast<size_t>(i)] += partial[static_cast<size_t>(k * n_sums * C + i)];
  }
  return total;
}

// Batch statistics of x (mean, biased variance) per channel, in double.
template <typename S, typename A = typename Accumulate<S>::type>
void batch_statistics(const S *x, const Shape &s, std::vector<double> &mean, std::vector<double> &variance) {
  const int64_t C = s.channels, count = s.count();
  mean.assign(static_cast<size_t>(C), 0.0);
  variance.assign(static_cast<size_t>(C), 0.0);
  if (count == 0) return;
  if (!s.channels_last) {
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(count, 1));
    at::parallel_for(0, C, grain, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        double total = 0;
        for (int64_t n = 0; n < s.batch; ++n) total += sum_run(x + (n * C + c) * s.inner, s.inner);
        const double m = total / double(count);
        double squares = 0;
        for (int64_t n = 0; n < s.batch; ++n) {
          squares += squared_deviation_run(x + (n * C + c) * s.inner, s.inner, static_cast<A>(m));
        }
        mean[static_cast<size_t>(c)] = m;
        variance[static_cast<size_t>(c)] = squares / double(count);
      }
    });
    return;
  }
  auto sums = channel_totals<A>(s, 1, [&](int64_t r, int64_t rows, A *acc) { sum_rows(x + r * C, rows, C, acc); });
  std::vector<A> m(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    mean[static_cast<size_t>(c)] = sums[static_cast<size_t>(c)] / double(count);
    m[static_cast<size_t>(c)] = static_cast<A>(mean[static_cast<size_t>(c)]);
  }
  auto squares = channel_totals<A>(
      s, 1, [&](int64_t r, int64_t rows, A *acc) { squared_deviation_rows(x + r * C, rows, C, m.data(), acc); });
  for (int64_t c = 0; c < C; ++c) variance[static_cast<size_t>(c)] = squares[static_cast<size_t>(c)] / double(count);
}

// y = leaky_relu(a·x + b) per channel; y may be x.
template <typename S, typename A = typename Accumulate<S>::type>
void normalize(const S *x, S *y, const Shape &s, const std::vector<A> &a, const std::vector<A> &b, A slope) {
  const int64_t C = s.channels;
  if (!s.channels_last) {
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(s.inner, 1));
    at::parallel_for(0, s.batch * C, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t c = static_cast<size_t>(i % C);
        forward_run(x + i * s.inner, y + i * s.inner, s.inner, a[c], b[c], slope);
      }
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(C, 1));
  at::parallel_for(0, s.rows(), grain, [&](int64_t begin, int64_t end) {
    forward_rows(x + begin * C, y + begin * C, end - begin, C, a.data(), b.data(), slope);
  });
}

// Sums a vector over the process group in place (SyncIABN); empty for one process.
using GroupSum = std::function<void(std::vector<double> &)>;

// dx from the output z and its gradient dz; fills Σdy (the bias's gradient) and Σdy·x̂ (the
// weight's) per channel, this process's own. With `group_sum` (SyncIABN) dx uses the group's
// sums over its `total` values per channel (sync_batch_norm.cpp states the gradient convention);
// the sums then take a pass of their own before the dx pass, where one process fuses them.
template <typename S, typename A = typename Accumulate<S>::type>
void normalize_backward(const S *z, const S *dz, S *dx, const Shape &s, const double *weight, const double *bias,
                        const double *invstd, double slope, std::vector<double> &sum_dy,
                        std::vector<double> &sum_dy_xhat, const GroupSum &group_sum, double total) {
  const int64_t C = s.channels, count = s.count();
  const A slope_a = static_cast<A>(slope), inverse_slope = static_cast<A>(1.0 / slope);
  sum_dy.assign(static_cast<size_t>(C), 0.0);
  sum_dy_xhat.assign(static_cast<size_t>(C), 0.0);
  if (count == 0 && !group_sum) return;
  // dx = k·dy + c0 + c1·(y − β) with k = w·invstd, c0 = −k·Σdy/n, c1 = −invstd·Σdy·x̂/n, the sums
  // and n the group's.
  auto coefficients = [&](int64_t c, double s1, double s2, A &k, A &c0, A &c1) {
    const double w = weight[c], is = invstd[c];
    k = static_cast<A>(w * is);
    c0 = static_cast<A>(-w * is * s1 / total);
    c1 = static_cast<A>(-is * s2 / total);
  };
  const int64_t channel_grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(count, 1));
  if (!s.channels_last && !group_sum) {
    at::parallel_for(0, C, channel_grain, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const A beta = static_cast<A>(bias[c]);
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < s.batch; ++n) {
          const int64_t at = (n * C + c) * s.inner;
          A r1, r2;
          gradient_sums_run(z + at, dz + at, s.inner, beta, slope_a, inverse_slope, r1, r2);
          s1 += r1;
          s2 += r2;
        }
        sum_dy[static_cast<size_t>(c)] = s1;
        sum_dy_xhat[static_cast<size_t>(c)] = s2 / weight[c];  // Σdy·x̂ = Σdy·(y − β)/w
        A k, c0, c1;
        coefficients(c, s1, s2 / weight[c], k, c0, c1);
        if (!dx) continue;
        for (int64_t n = 0; n < s.batch; ++n) {
          const int64_t at = (n * C + c) * s.inner;
          gradient_input_run(z + at, dz + at, dx + at, s.inner, beta, slope_a, inverse_slope, k, c0, c1);
        }
      }
    });
    return;
  }
  std::vector<A> beta(static_cast<size_t>(C)), k(static_cast<size_t>(C)), c0(static_cast<size_t>(C)),
      c1(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) beta[static_cast<size_t>(c)] = static_cast<A>(bias[c]);
  // [Σdy, Σdy·(y − β)] per channel.
  std::vector<double> sums(static_cast<size_t>(2 * C), 0.0);
  if (count > 0 && !s.channels_last) {
    at::parallel_for(0, C, channel_grain, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        for (int64_t n = 0; n < s.batch; ++n) {
          const int64_t at = (n * C + c) * s.inner;
          A r1, r2;
          gradient_sums_run(z + at, dz + at, s.inner, beta[static_cast<size_t>(c)], slope_a, inverse_slope, r1, r2);
          sums[static_cast<size_t>(c)] += r1;
          sums[static_cast<size_t>(C + c)] += r2;
        }
      }
    });
  } else if (count > 0) {
    sums = channel_totals<A>(s, 2, [&](int64_t r, int64_t rows, A *acc) {
      gradient_sums_rows(z + r * C, dz + r * C, rows, C, beta.data(), slope_a, inverse_slope, acc, acc + C);
    });
  }
  std::vector<double> group(static_cast<size_t>(2 * C));
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c);
    sum_dy[i] = group[i] = sums[i];
    sum_dy_xhat[i] = group[static_cast<size_t>(C) + i] = sums[static_cast<size_t>(C) + i] / weight[c];
  }
  if (group_sum) group_sum(group);
  for (int64_t c = 0; c < C; ++c) {
    const size_t i = static_cast<size_t>(c);
    coefficients(c, group[i], group[static_cast<size_t>(C) + i], k[i], c0[i], c1[i]);
  }
  if (!dx || count == 0) return;
  if (!s.channels_last) {
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(s.inner, 1));
    at::parallel_for(0, s.batch * C, grain, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        const size_t c = static_cast<size_t>(j % C);
        gradient_input_run(z + j * s.inner, dz + j * s.inner, dx + j * s.inner, s.inner, beta[c], slope_a,
                           inverse_slope, k[c], c0[c], c1[c]);
      }
    });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(C, 1));
  at::parallel_for(0, s.rows(), grain, [&](int64_t begin, int64_t end) {
    gradient_input_rows(z + begin * C, dz + begin * C, dx + begin * C, end - begin, C, beta.data(), slope_a,
                        inverse_slope, k.data(), c0.data(), c1.data());
  });
}

// Calls body.template operator()<S>() with S the kernels' storage type for x's dtype.
template <typename Body>
void dispatch(at::ScalarType type, Body &&body) {
  switch (type) {
    case at::kFloat: body(static_cast<float *>(nullptr)); break;
    case at::kDouble: body(static_cast<double *>(nullptr)); break;
    case at::kBFloat16: body(static_cast<uint16_t *>(nullptr)); break;
    default: TORCH_CHECK(false, "inplace_abn: no fused kernel for ", type);
  }
}

template <typename S>
S *data_of(const at::Tensor &t) {
  return static_cast<S *>(t.data_ptr());
}

// Whether the fused kernels handle x: a CPU tensor of a supported type, NCHW-contiguous (any
// rank ≥ 2) or channels-last (4-D).
bool fused_supports(const at::Tensor &x) {
  const auto type = x.scalar_type();
  return x.device().is_cpu() && x.dim() >= 2 && (type == at::kFloat || type == at::kDouble || type == at::kBFloat16);
}

// Channels-last and not also plain contiguous (one channel, or 1×1 maps, are both).
bool is_channels_last(const at::Tensor &x) {
  return x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

// Whether the output may overwrite the input: the input is an intermediate of a graph being
// recorded (a convolution's output, say), not a leaf (user data, parameters, or anything made
// without recording) and not a view of another tensor, and laid out as the kernels read it.
// Autograd's version counter (bumped for the modified input) still reports a use of the old
// values by another node's backward.
bool may_overwrite(const at::Tensor &x) {
  return at::GradMode::is_enabled() && x.requires_grad() && !x.is_leaf() && !x.is_view() && fused_supports(x) &&
         (x.is_contiguous() || is_channels_last(x));
}

std::vector<double> doubles(const at::Tensor &t) {
  auto c = t.detach().to(at::kDouble).contiguous();
  const double *p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// ---------------------------------------------------------------------------------------------
// The unfused path (other devices, float16), from libtorch's element-wise operations.

// Per-channel vectors as [1, C, 1, ...] for broadcasting over [N, C, ...].
at::Tensor channels(const at::Tensor &v, int64_t dim) {
  std::vector<int64_t> shape(static_cast<size_t>(dim), 1);
  shape[1] = -1;
  return v.view(shape);
}

std::vector<int64_t> reduced_dims(int64_t dim) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < dim; ++d) dims.push_back(d);
  return dims;
}

// Sums `values` over the group in place, as float64; throws c10d's error (timeout, a peer gone).
void all_reduce(const c10::intrusive_ptr<c10d::ProcessGroup> &group, std::vector<double> &values) {
  auto t = at::tensor(at::ArrayRef<double>(values), at::TensorOptions().dtype(at::kDouble));
  std::vector<at::Tensor> tensors{t};
  group->allreduce(tensors)->wait();
  std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), values.begin());
}

// SyncIABN's statistics: this process's per-channel mean and biased variance over its `count`
// values become the group's, and `count` the group's (sums and sums of squares in float64, as
// SyncBatchNorm's).
void group_statistics(const c10::intrusive_ptr<c10d::ProcessGroup> &group, std::vector<double> &mean,
                      std::vector<double> &variance, double &count) {
  const size_t C = mean.size();
  std::vector<double> sums(2 * C + 1);
  for (size_t c = 0; c < C; ++c) {
    sums[c] = count * mean[c];
    sums[C + c] = count * (variance[c] + mean[c] * mean[c]);
  }
  sums[2 * C] = count;
  all_reduce(group, sums);
  count = sums[2 * C];
  TORCH_CHECK(count > 1, "SyncIABN: expected more than 1 value per channel in training over the process group, got ",
              count);
  for (size_t c = 0; c < C; ++c) {
    mean[c] = sums[c] / count;
    variance[c] = std::max(sums[C + c] / count - mean[c] * mean[c], 0.0);
  }
}

struct InPlaceABNFunction : public torch::autograd::Function<InPlaceABNFunction> {
  // `weight` is the positive affine scale (|γ| + ε, so that the transform can be inverted).
  static variable_list forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &weight,
                               const at::Tensor &bias, at::Tensor running_mean, at::Tensor running_var, double momentum,
                               double epsilon, double slope, bool activation, bool in_place,
                               c10::intrusive_ptr<c10d::ProcessGroup> group) {
    TORCH_CHECK(x.dim() >= 2, "inplace_abn expects [N, C, ...] input, got ", x.dim(), " dimensions");
    TORCH_CHECK(!activation || slope > 0, "inplace_abn: the leaky ReLU's slope must be positive to be inverted, got ",
                slope);
    const int64_t C = x.size(1);
    TORCH_CHECK(weight.numel() == C && bias.numel() == C, "inplace_abn: ", C, " channels but ", weight.numel(),
                " weights and ", bias.numel(), " biases");
    // The values per channel: this process's, then (SyncIABN) the group's, which may hold
    // processes without any.
    double count = C > 0 ? double(x.numel() / C) : 0.0;
    TORCH_CHECK(count > 0 || group, "inplace_abn: no values per channel in input of shape ", x.sizes());
    const double applied_slope = activation ? slope : 1.0;
    const bool fused = fused_supports(x);
    const auto compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    at::Tensor z, mean_t, variance_t, invstd_t;

    if (fused) {
      const bool channels_last = is_channels_last(x);
      // Read x as the kernels want it (a copy when it is laid out otherwise, which then takes the output).
      at::Tensor input = channels_last || x.is_contiguous() ? x : x.contiguous();
      z = in_place || !input.is_same(x) ? input : at::empty_like(input);
      const Shape s = shape_of(input, channels_last);
      std::vector<double> mean, variance;
      dispatch(input.scalar_type(), [&](auto *tag) {
        using S = std::remove_pointer_t<decltype(tag)>;
        batch_statistics<S>(data_of<S>(input), s, mean, variance);
      });
      if (group) group_statistics(group, mean, variance, count);
      const auto w = doubles(weight), b = doubles(bias);
      std::vector<double> invstd(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) invstd[static_cast<size_t>(c)] = 1.0 / std::sqrt(variance[static_cast<size_t>(c)] + epsilon);
      dispatch(input.scalar_type(), [&](auto *tag) {
        using S = std::remove_pointer_t<decltype(tag)>;
        using A = typename Accumulate<S>::type;
        std::vector<A> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
        for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
          scale[c] = static_cast<A>(w[c] * invstd[c]);
          shift[c] = static_cast<A>(b[c] - mean[c] * w[c] * invstd[c]);
        }
        normalize<S>(data_of<S>(input), data_of<S>(z), s, scale, shift, static_cast<A>(applied_slope));
      });
      auto as_tensor = [&](const std::vector<double> &v) {
        return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble)).to(compute);
      };
      mean_t = as_tensor(mean);
      variance_t = as_tensor(variance);
      invstd_t = as_tensor(invstd);
      ctx->saved_data["channels_last"] = channels_last;
    } else {
      // Statistics and arithmetic in float32 (or float64); the output in the input's type.
      const auto dims = reduced_dims(x.dim());
      const auto input = x.to(compute);
      if (group) {
        auto mean = count > 0 ? doubles(input.mean(dims)) : std::vector<double>(static_cast<size_t>(C), 0.0);
        auto variance = count > 0 ? doubles(input.var(dims, /*unbiased=*/false)) : mean;
        group_statistics(group, mean, variance, count);
        auto as_tensor = [&](const std::vector<double> &v) {
          return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble)).to(compute);
        };
        mean_t = as_tensor(mean);
        variance_t = as_tensor(variance);
      } else {
        mean_t = input.mean(dims);
        variance_t = input.var(dims, /*unbiased=*/false);
      }
      invstd_t = (variance_t + epsilon).rsqrt();
      auto y = (input - channels(mean_t, x.dim())) * channels(invstd_t * weight.to(compute), x.dim()) +
               channels(bias.to(compute), x.dim());
      if (activation) at::leaky_relu_(y, slope);
      z = y.to(x.scalar_type());  // `in_place` is never set for this path (may_overwrite)
    }
    if (running_mean.numel() > 0) {
      const double unbiased = count / std::max(count - 1, 1.0);
      running_mean.mul_(1 - momentum).add_(mean_t.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_(variance_t.to(running_var.scalar_type()) * unbiased, momentum);
    }
    if (in_place) ctx->mark_dirty({x});
    ctx->save_for_backward({z, weight, bias, invstd_t});
    ctx->saved_data["slope"] = applied_slope;
    ctx->saved_data["fused"] = fused;
    ctx->saved_data["count"] = count;
    if (group) ctx->saved_data["group"] = c10::IValue::make_capsule(group);
    return {in_place ? x : z};
  }

  static variable_list backward(torch::autograd::AutogradContext *ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const auto &z = saved[0], &weight = saved[1], &bias = saved[2], &invstd = saved[3];
    const double slope = ctx->saved_data["slope"].toDouble();
    const auto type = z.scalar_type();
    const auto compute = type == at::kDouble ? at::kDouble : at::kFloat;
    const int64_t C = z.size(1);
    const double count = ctx->saved_data["count"].toDouble();
    c10::intrusive_ptr<c10d::ProcessGroup> group;
    if (ctx->saved_data.count("group")) {
      group = c10::static_intrusive_pointer_cast<c10d::ProcessGroup>(ctx->saved_data["group"].toCapsule());
    }
    const variable_list none(11);
    // Every process of a group runs this backward's all-reduce, gradient or not (it cannot
    // know whether the others have one).
    if (!grad_outputs[0].defined() && !group) return none;
    at::Tensor dx, sum_dy_t, sum_dy_xhat_t;
    if (ctx->saved_data["fused"].toBool()) {
      const bool channels_last = ctx->saved_data["channels_last"].toBool();
      at::Tensor dz = (grad_outputs[0].defined() ? grad_outputs[0] : at::zeros_like(z)).to(type).contiguous(channels_last ? at::MemoryFormat::ChannelsLast
                                                                        : at::MemoryFormat::Contiguous);
      const bool input_grad = ctx->needs_input_grad(0);
      if (input_grad) dx = at::empty_like(z);
      const Shape s = shape_of(z, channels_last);
      const auto w = doubles(weight), b = doubles(bias), is = doubles(invstd);
      std::vector<double> sum_dy, sum_dy_xhat;
      GroupSum group_sum;
      if (group) group_sum = [&](std::vector<double> &values) { all_reduce(group, values); };
      dispatch(type, [&](auto *tag) {
        using S = std::remove_pointer_t<decltype(tag)>;
        normalize_backward<S>(data_of<S>(z), data_of<S>(dz), input_grad ? data_of<S>(dx) : nullptr, s, w.data(),
                              b.data(), is.data(), slope, sum_dy, sum_dy_xhat, group_sum, count);
      });
      auto as_tensor = [&](const std::vector<double> &v) {
        return at::tensor(at::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble));
      };
      sum_dy_t = as_tensor(sum_dy);
      sum_dy_xhat_t = as_tensor(sum_dy_xhat);
    } else {
      const auto dims = reduced_dims(z.dim());
      const int64_t dim = z.dim();
      auto dz = (grad_outputs[0].defined() ? grad_outputs[0] : at::zeros_like(z)).to(compute);
      at::Tensor y = z.to(compute), dy = dz;
      if (slope != 1.0) {
        auto positive = y >= 0;
        y = at::where(positive, y, y / slope);
        dy = at::where(positive, dz, dz * slope);
      }
      const auto w = weight.to(compute);
      auto normalized = (y - channels(bias.to(compute), dim)) / channels(w, dim);
      sum_dy_t = dy.sum(dims);
      sum_dy_xhat_t = (dy * normalized).sum(dims);
      at::Tensor group_dy = sum_dy_t, group_dy_xhat = sum_dy_xhat_t;
      if (group) {
        auto sums = doubles(at::cat({sum_dy_t, sum_dy_xhat_t}));
        all_reduce(group, sums);
        auto global = at::tensor(at::ArrayRef<double>(sums), at::TensorOptions().dtype(at::kDouble)).to(compute);
        group_dy = global.slice(0, 0, C);
        group_dy_xhat = global.slice(0, C, 2 * C);
      }
      dx = channels(w * invstd, dim) *
           (dy - channels(group_dy / count, dim) - normalized * channels(group_dy_xhat / count, dim));
      dx = dx.to(type);
    }
    if (!grad_outputs[0].defined()) return none;
    variable_list gradients = none;
    gradients[0] = dx;
    gradients[1] = sum_dy_xhat_t.to(weight.scalar_type());
    gradients[2] = sum_dy_t.to(bias.scalar_type());
    return gradients;
  }
};

}  // namespace

extern "C" int ct_inplace_abn(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean,
                              ct_tensor running_var, double momentum, double epsilon, double slope, int32_t activation,
                              ct_process_group group, ct_tensor *out) {
  CT_TRY({
    // Absent running statistics arrive as empty tensors (autograd's apply wants defined inputs).
    const auto &input = unwrap(x);
    auto stand_in = [&](ct_tensor t) { return t ? unwrap(t) : at::empty({0}, input.options().requires_grad(false)); };
    auto result = InPlaceABNFunction::apply(input, unwrap(weight), unwrap(bias), stand_in(running_mean),
                                            stand_in(running_var), momentum, epsilon, slope, activation != 0,
                                            may_overwrite(input),
                                            group && group->size > 1 ? group->group
                                                                     : c10::intrusive_ptr<c10d::ProcessGroup>());
    *out = wrap(result[0]);
  })
}
