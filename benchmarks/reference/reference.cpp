// The reference side of the foundation benchmark: the computations of benchmarks/foundation,
// written directly against ATen with the same op sequence, so that the difference in time is
// what the Swift layer (Torch, NN) adds. Nothing here is shared with Sources/CTorch on purpose:
// the reference must not go through the code it measures.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "benchmark_reference.h"

namespace {

thread_local std::string last_error;

void set_error(const char *message) { last_error = message ? message : ""; }

// Runs `body`, returning its value; any exception becomes `failure` with its message stored.
template <typename T, typename F>
T guarded(T failure, F &&body) {
  try {
    return body();
  } catch (const c10::Error &e) {
    set_error(e.what_without_backtrace());
  } catch (const std::exception &e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception");
  }
  return failure;
}

// PyTorch's default initialisation for conv and linear layers (kaiming_uniform with a = sqrt(5)),
// which is uniform in ±1/sqrt(fan_in): the same distribution the Swift side's Initializer uses.
at::Tensor uniform_parameter(at::IntArrayRef shape, int64_t fan_in, at::Generator &gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  at::Tensor t = at::empty(shape, at::kFloat);
  t.uniform_(-bound, bound, gen);
  t.requires_grad_(true);
  return t;
}

struct Conv {
  at::Tensor weight;
  int64_t stride = 1;
  int64_t padding = 0;

  Conv() = default;
  Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_, at::Generator &gen,
       std::vector<at::Tensor> &params)
      : weight(uniform_parameter({out, in, kernel, kernel}, in * kernel * kernel, gen)),
        stride(stride_), padding(padding_) {
    params.push_back(weight);
  }

  at::Tensor operator()(const at::Tensor &x) const {
    return at::conv2d(x, weight, {}, {stride, stride}, {padding, padding}, {1, 1}, 1);
  }
};

// torch.nn.BatchNorm2d in training mode: batch statistics, running statistics updated in place,
// num_batches_tracked incremented without recording gradients.
struct BatchNorm {
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

  BatchNorm() = default;
  BatchNorm(int64_t features, std::vector<at::Tensor> &params)
      : weight(at::ones({features}).requires_grad_(true)),
        bias(at::zeros({features}).requires_grad_(true)),
        running_mean(at::zeros({features})),
        running_var(at::ones({features})),
        num_batches_tracked(at::zeros({}, at::kLong)) {
    params.push_back(weight);
    params.push_back(bias);
  }

  at::Tensor operator()(const at::Tensor &x) const {
    {
      at::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    return at::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true, /*momentum=*/0.1,
                          /*eps=*/1e-5, /*cudnn_enabled=*/true);
  }
};

struct Bottleneck {
  Conv conv1, conv2, conv3, down_conv;
  BatchNorm bn1, bn2, bn3, down_bn;
  bool has_downsample = false;

  Bottleneck(int64_t in, int64_t width, int64_t stride, at::Generator &gen, std::vector<at::Tensor> &params) {
    const int64_t out = width * 4;
    conv1 = Conv(in, width, 1, 1, 0, gen, params);
    bn1 = BatchNorm(width, params);
    conv2 = Conv(width, width, 3, stride, 1, gen, params);
    bn2 = BatchNorm(width, params);
    conv3 = Conv(width, out, 1, 1, 0, gen, params);
    bn3 = BatchNorm(out, params);
    has_downsample = stride != 1 || in != out;
    if (has_downsample) {
      down_conv = Conv(in, out, 1, stride, 0, gen, params);
      down_bn = BatchNorm(out, params);
    }
  }

  at::Tensor operator()(const at::Tensor &x) const {
    at::Tensor y = at::relu(bn1(conv1(x)));
    y = at::relu(bn2(conv2(y)));
    y = bn3(conv3(y));
    at::Tensor identity = has_downsample ? down_bn(down_conv(x)) : x;
    return at::relu(y + identity);
  }
};

}  // namespace

struct bref_conv_impl {
  at::Tensor x, weight;
  int64_t stride, padding;

  void step() {
    x.mutable_grad().reset();
    weight.mutable_grad().reset();
    // The conv output dies before backward (sum's backward does not keep it), as it does on the
    // Swift side, where ARC releases it after its last use: kept alive until after backward it
    // makes backward's buffers land in cold memory, up to 20% slower at 6 MB outputs.
    at::Tensor total;
    {
      at::Tensor y = at::conv2d(x, weight, {}, {stride, stride}, {padding, padding}, {1, 1}, 1);
      total = y.sum();
    }
    total.backward();
  }
};

struct bref_resnet_impl {
  std::vector<at::Tensor> params;
  Conv conv1;
  BatchNorm bn1;
  std::vector<Bottleneck> blocks;
  at::Tensor fc_weight, fc_bias;
  at::Tensor x, targets, last_loss;

  bref_resnet_impl(int64_t batch, int64_t size, uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    conv1 = Conv(3, 64, 7, 2, 3, gen, params);
    bn1 = BatchNorm(64, params);
    const int64_t depths[4] = {3, 4, 6, 3};
    const int64_t widths[4] = {64, 128, 256, 512};
    int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      for (int64_t i = 0; i < depths[stage]; ++i) {
        const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        blocks.emplace_back(in, widths[stage], stride, gen, params);
        in = widths[stage] * 4;
      }
    }
    fc_weight = uniform_parameter({1000, 2048}, 2048, gen);
    fc_bias = uniform_parameter({1000}, 2048, gen);
    params.push_back(fc_weight);
    params.push_back(fc_bias);
    x = at::randn({batch, 3, size, size}, gen);
    targets = at::randint(0, 1000, {batch}, gen, at::kLong);
  }

  at::Tensor forward(const at::Tensor &input) const {
    at::Tensor y = at::relu(bn1(conv1(input)));
    y = at::max_pool2d(y, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false);
    for (const Bottleneck &block : blocks) y = block(y);
    y = at::adaptive_avg_pool2d(y, {1, 1});
    y = y.flatten(1, -1);
    return at::linear(y, fc_weight, fc_bias);
  }

  void step() {
    for (at::Tensor &p : params) p.mutable_grad().reset();
    // The logits are a temporary, released before backward as ARC releases them on the Swift side.
    at::Tensor loss = at::cross_entropy_loss(forward(x), targets);
    loss.backward();
    last_loss = loss;
  }
};

namespace {

template <typename S>
double time_steps(S &subject, int32_t iterations) {
  TORCH_CHECK(iterations > 0, "iterations must be positive, got ", iterations);
  const auto start = std::chrono::steady_clock::now();
  for (int32_t i = 0; i < iterations; ++i) subject.step();
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - start).count() / iterations;
}

}  // namespace

extern "C" {

const char *bref_last_error(void) { return last_error.c_str(); }

int32_t bref_num_threads(void) { return at::get_num_threads(); }

int64_t bref_minor_page_faults(void) {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

int32_t bref_pin_malloc_thresholds(void) {
  const bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  if (!ok) set_error("mallopt refused the malloc thresholds");
  return ok ? 0 : 1;
}

bref_conv bref_conv_new(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size, int64_t kernel,
                        int64_t stride, int64_t padding, int32_t input_requires_grad, uint64_t seed) {
  return guarded<bref_conv>(nullptr, [&] {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    auto *c = new bref_conv_impl;
    c->x = at::randn({batch, in_channels, size, size}, gen).requires_grad_(input_requires_grad != 0);
    c->weight = uniform_parameter({out_channels, in_channels, kernel, kernel}, in_channels * kernel * kernel, gen);
    c->stride = stride;
    c->padding = padding;
    return c;
  });
}

double bref_conv_run(bref_conv c, int32_t iterations) {
  return guarded(-1.0, [&] { return time_steps(*c, iterations); });
}

void bref_conv_free(bref_conv c) { delete c; }

double bref_conv_step(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size, int64_t kernel,
                      int64_t stride, int64_t padding, int32_t input_requires_grad, int32_t iterations,
                      int32_t warmup) {
  bref_conv c = bref_conv_new(batch, in_channels, out_channels, size, kernel, stride, padding, input_requires_grad, 0);
  if (c == nullptr) return -1.0;
  double seconds = warmup > 0 ? bref_conv_run(c, warmup) : 0.0;
  if (seconds >= 0) seconds = bref_conv_run(c, iterations);
  bref_conv_free(c);
  return seconds;
}

bref_resnet bref_resnet50_new(int32_t batch, int32_t size, uint64_t seed) {
  return guarded<bref_resnet>(nullptr, [&] { return new bref_resnet_impl(batch, size, seed); });
}

double bref_resnet50_run(bref_resnet r, int32_t iterations) {
  return guarded(-1.0, [&] { return time_steps(*r, iterations); });
}

double bref_resnet50_last_loss(bref_resnet r) {
  return guarded(NAN, [&] { return r->last_loss.defined() ? r->last_loss.item<double>() : NAN; });
}

int64_t bref_resnet50_parameter_count(bref_resnet r) {
  int64_t n = 0;
  for (const at::Tensor &p : r->params) n += p.numel();
  return n;
}

int64_t bref_resnet50_parameter_tensors(bref_resnet r) { return static_cast<int64_t>(r->params.size()); }

void bref_resnet50_free(bref_resnet r) { delete r; }

double bref_resnet50_step(int32_t batch, int32_t size, int32_t iterations, int32_t warmup) {
  bref_resnet r = bref_resnet50_new(batch, size, 0);
  if (r == nullptr) return -1.0;
  double seconds = warmup > 0 ? bref_resnet50_run(r, warmup) : 0.0;
  if (seconds >= 0) seconds = bref_resnet50_run(r, iterations);
  bref_resnet50_free(r);
  return seconds;
}

}  // extern "C"
