// Library state, tensor lifetime and properties, creation, conversion and autograd.
#include "libtorch_check.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/Utils.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/version.h>

#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <cstring>

#include "internal.h"

namespace {
thread_local std::string last_error;

// Tensor buffers are large and short-lived. With glibc's defaults, freed blocks above its
// (moving) mmap threshold go back to the kernel and every iteration faults in fresh zeroed
// pages; pinning the thresholds keeps that memory in the heap for reuse. The mmap threshold sits
// at 256 MiB, above the blocks detectors allocate every step (a ResNet stage's activations at
// 512x512 are 33 MiB, RoIAlign's pooled features 50-100 MiB); glibc's own threshold stops at
// 32 MiB. Measured on Faster R-CNN R50-FPN, 512x512, batch 2, 2 threads: unpinned -> 32 MiB
// 1.31 -> 1.69 images/s (inference, before later work); 32 -> 256 MiB 4.04 -> 4.27 inference,
// 1.12 -> 1.21 training, for ~20% more peak memory in training.
// SIMPLEDET_MALLOC=system, or malloc thresholds set through GLIBC_TUNABLES or glibc's MALLOC_*_
// variables, leave glibc's settings alone.
bool allocator_pinned = false;

bool user_configured_malloc() {
  const char *choice = std::getenv("SIMPLEDET_MALLOC");
  if (choice != nullptr && std::strcmp(choice, "system") == 0) return true;
  const char *tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return true;
  for (const char *name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

__attribute__((constructor)) void configure_allocator() {
  if (user_configured_malloc()) return;
  allocator_pinned = mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
}
}  // namespace

namespace ctorch {

void set_error(const char *message) { last_error = message ? message : ""; }

at::ScalarType scalar_type(int32_t dtype) {
  switch (dtype) {
    case CT_FLOAT32: return at::kFloat;
    case CT_FLOAT64: return at::kDouble;
    case CT_FLOAT16: return at::kHalf;
    case CT_BFLOAT16: return at::kBFloat16;
    case CT_INT64: return at::kLong;
    case CT_INT32: return at::kInt;
    case CT_INT16: return at::kShort;
    case CT_INT8: return at::kChar;
    case CT_UINT8: return at::kByte;
    case CT_BOOL: return at::kBool;
  }
  TORCH_CHECK(false, "unknown dtype code ", dtype);
}

int32_t dtype_code(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return CT_FLOAT32;
    case at::kDouble: return CT_FLOAT64;
    case at::kHalf: return CT_FLOAT16;
    case at::kBFloat16: return CT_BFLOAT16;
    case at::kLong: return CT_INT64;
    case at::kInt: return CT_INT32;
    case at::kShort: return CT_INT16;
    case at::kChar: return CT_INT8;
    case at::kByte: return CT_UINT8;
    case at::kBool: return CT_BOOL;
    default: break;
  }
  TORCH_CHECK(false, "dtype ", c10::toString(type), " has no SimpleDet equivalent");
}

at::Device device(int32_t type, int32_t index) {
  if (type == CT_DEVICE_CUDA) return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  return at::Device(at::kCPU);
}

at::TensorOptions options(int32_t dtype, int32_t dev, int32_t index) {
  return at::TensorOptions().dtype(scalar_type(dtype)).device(device(dev, index));
}

at::Scalar scalar(ct_scalar s) {
  switch (s.kind) {
    case 1: return at::Scalar(static_cast<int64_t>(s.i));
    case 2: return at::Scalar(s.i != 0);
    default: return at::Scalar(s.f);
  }
}

ct_scalar from_scalar(const at::Scalar &s) {
  ct_scalar r{0, 0.0, 0};
  if (s.isBoolean()) {
    r.kind = 2;
    r.i = s.toBool() ? 1 : 0;
  } else if (s.isIntegral(false)) {
    r.kind = 1;
    r.i = s.toLong();
    r.f = static_cast<double>(r.i);
  } else {
    r.f = s.toDouble();
  }
  return r;
}

}  // namespace ctorch

using namespace ctorch;

extern "C" {

const char *ct_last_error(void) { return last_error.c_str(); }
const char *ct_version(void) { return TORCH_VERSION; }
int ct_set_num_threads(int32_t n) { CT_TRY(at::set_num_threads(n)) }
int32_t ct_get_num_threads(void) { return at::get_num_threads(); }
void ct_manual_seed(uint64_t seed) { at::manual_seed(seed); }
int32_t ct_cuda_device_count(void) {
  try {
    return at::hasCUDA() ? static_cast<int32_t>(at::getNumGPUs()) : 0;
  } catch (...) {
    return 0;
  }
}
int32_t ct_has_bf16_cpu(void) {
  try {
    auto caps = at::cpu::get_cpu_capabilities();
    auto it = caps.find("avx512_bf16");
    return it != caps.end() && it->second.isBool() && it->second.toBool() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}
int32_t ct_malloc_pinned(void) { return allocator_pinned ? 1 : 0; }
int32_t ct_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }
void ct_set_grad_enabled(int32_t enabled) { at::GradMode::set_enabled(enabled != 0); }

int ct_profiler_begin(void) {
  CT_TRY(torch::autograd::profiler::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU)))
}
int ct_profiler_end(const char *trace_path) {
  CT_TRY({
    auto lists = torch::autograd::profiler::disableProfilerLegacy();
    std::vector<torch::autograd::profiler::LegacyEvent *> events;
    for (auto &list : lists)
      for (auto &event : list) events.push_back(&event);
    std::ofstream out(trace_path);
    if (!out) throw std::runtime_error(std::string("cannot write the profile to ") + trace_path);
    torch::autograd::profiler::writeProfilerEventsToStream(out, events);
  })
}

int ct_autocast_enter(int32_t dtype, int32_t *previous_enabled, int32_t *previous_dtype) {
  CT_TRY({
    auto type = scalar_type(dtype);
    *previous_enabled = at::autocast::is_autocast_enabled(at::kCPU) ? 1 : 0;
    *previous_dtype = dtype_code(at::autocast::get_autocast_dtype(at::kCPU));
    at::autocast::set_autocast_dtype(at::kCPU, type);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::increment_nesting();
  })
}
int ct_autocast_exit(int32_t previous_enabled, int32_t previous_dtype) {
  CT_TRY({
    at::autocast::set_autocast_enabled(at::kCPU, previous_enabled != 0);
    at::autocast::set_autocast_dtype(at::kCPU, scalar_type(previous_dtype));
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  })
}
int32_t ct_autocast_enabled(void) { return at::autocast::is_autocast_enabled(at::kCPU) ? 1 : 0; }
int32_t ct_autocast_set_enabled(int32_t enabled) {
  const bool previous = at::autocast::is_autocast_enabled(at::kCPU);
  at::autocast::set_autocast_enabled(at::kCPU, enabled != 0);
  return previous ? 1 : 0;
}

int ct_generator_new(uint64_t seed, ct_generator *out) {
  CT_TRY({
    auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
    *out = new ct_generator_impl{g};
  })
}
void ct_generator_free(ct_generator g) { delete g; }
int ct_generator_set_seed(ct_generator g, uint64_t seed) {
  CT_TRY({
    std::lock_guard<std::mutex> lock(g->generator.mutex());
    g->generator.set_current_seed(seed);
  })
}
int ct_generator_get_state(ct_generator g, uint8_t *buf, size_t cap, size_t *size) {
  CT_TRY({
    std::lock_guard<std::mutex> lock(g->generator.mutex());
    at::Tensor state = g->generator.get_state();
    *size = static_cast<size_t>(state.numel());
    if (buf != nullptr) {
      TORCH_CHECK(cap >= *size, "generator state needs ", *size, " bytes, buffer has ", cap);
      std::memcpy(buf, state.data_ptr<uint8_t>(), *size);
    }
  })
}
int ct_generator_set_state(ct_generator g, const uint8_t *buf, size_t size) {
  CT_TRY({
    at::Tensor state = at::empty({static_cast<int64_t>(size)}, at::kByte);
    std::memcpy(state.data_ptr<uint8_t>(), buf, size);
    std::lock_guard<std::mutex> lock(g->generator.mutex());
    g->generator.set_state(state);
  })
}

void ct_tensor_free(ct_tensor t) { delete t; }
int ct_tensor_defined(ct_tensor t) { return t != nullptr && t->tensor.defined() ? 1 : 0; }
int ct_dim(ct_tensor t, int64_t *out) { CT_TRY(*out = unwrap(t).dim()) }
int ct_sizes(ct_tensor t, int64_t *sizes, int64_t cap, int64_t *ndim) {
  CT_TRY({
    auto s = unwrap(t).sizes();
    *ndim = static_cast<int64_t>(s.size());
    for (int64_t i = 0; i < *ndim && i < cap; ++i) sizes[i] = s[i];
  })
}
int ct_strides(ct_tensor t, int64_t *strides, int64_t cap, int64_t *ndim) {
  CT_TRY({
    auto s = unwrap(t).strides();
    *ndim = static_cast<int64_t>(s.size());
    for (int64_t i = 0; i < *ndim && i < cap; ++i) strides[i] = s[i];
  })
}
int ct_numel(ct_tensor t, int64_t *out) { CT_TRY(*out = unwrap(t).numel()) }
int ct_dtype_of(ct_tensor t, int32_t *out) { CT_TRY(*out = dtype_code(unwrap(t).scalar_type())) }
int ct_device_of(ct_tensor t, int32_t *type, int32_t *index) {
  CT_TRY({
    auto d = unwrap(t).device();
    *type = d.is_cuda() ? CT_DEVICE_CUDA : CT_DEVICE_CPU;
    *index = d.has_index() ? d.index() : 0;
  })
}
int ct_is_contiguous(ct_tensor t, int32_t channels_last, int32_t *out) {
  CT_TRY(*out = unwrap(t).is_contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous))
}
int ct_requires_grad(ct_tensor t, int32_t *out) { CT_TRY(*out = unwrap(t).requires_grad() ? 1 : 0) }
int ct_set_requires_grad(ct_tensor t, int32_t flag) { CT_TRY(t->tensor.set_requires_grad(flag != 0)) }
int ct_is_leaf(ct_tensor t, int32_t *out) { CT_TRY(*out = unwrap(t).is_leaf() ? 1 : 0) }
int ct_same_storage(ct_tensor a, ct_tensor b, int32_t *out) {
  CT_TRY(*out = unwrap(a).storage().is_alias_of(unwrap(b).storage()) ? 1 : 0)
}
int ct_to_string(ct_tensor t, char *buf, size_t cap, size_t *size) {
  CT_TRY({
    std::ostringstream stream;
    stream << unwrap(t);
    std::string s = stream.str();
    *size = s.size();
    if (buf != nullptr && cap > 0) {
      size_t n = std::min(cap - 1, s.size());
      std::memcpy(buf, s.data(), n);
      buf[n] = 0;
    }
  })
}

int ct_empty(const int64_t *shape, int64_t ndim, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out) {
  CT_TRY(*out = wrap(at::empty(ints(shape, ndim), options(dtype, dev, dev_index))))
}
int ct_full(const int64_t *shape, int64_t ndim, ct_scalar value, int32_t dtype, int32_t dev, int32_t dev_index,
            ct_tensor *out) {
  CT_TRY(*out = wrap(at::full(ints(shape, ndim), scalar(value), options(dtype, dev, dev_index))))
}
int ct_arange(ct_scalar start, ct_scalar end, ct_scalar step, int32_t dtype, int32_t dev, int32_t dev_index,
              ct_tensor *out) {
  CT_TRY(*out = wrap(at::arange(scalar(start), scalar(end), scalar(step), options(dtype, dev, dev_index))))
}
int ct_linspace(double start, double end, int64_t steps, int32_t dtype, int32_t dev, int32_t dev_index,
                ct_tensor *out) {
  CT_TRY(*out = wrap(at::linspace(start, end, steps, options(dtype, dev, dev_index))))
}
int ct_eye(int64_t n, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out) {
  CT_TRY(*out = wrap(at::eye(n, options(dtype, dev, dev_index))))
}
int ct_from_data(const void *data, size_t nbytes, const int64_t *shape, int64_t ndim, int32_t dtype, ct_tensor *out) {
  CT_TRY({
    at::Tensor t = at::empty(ints(shape, ndim), at::TensorOptions().dtype(scalar_type(dtype)));
    TORCH_CHECK(t.nbytes() == nbytes, "from_data: shape ", t.sizes(), " of ", c10::toString(t.scalar_type()),
                " needs ", t.nbytes(), " bytes but ", nbytes, " were given");
    if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    *out = wrap(std::move(t));
  })
}
int ct_copy_to_host(ct_tensor t, void *dst, size_t nbytes) {
  CT_TRY({
    at::Tensor host = unwrap(t).detach().to(at::kCPU).contiguous();
    TORCH_CHECK(host.nbytes() == nbytes, "copy_to_host: tensor holds ", host.nbytes(), " bytes but the buffer has ",
                nbytes);
    if (nbytes > 0) std::memcpy(dst, host.data_ptr(), nbytes);
  })
}
int ct_item(ct_tensor t, ct_scalar *out) { CT_TRY(*out = from_scalar(unwrap(t).item())) }

int ct_random(int32_t distribution, const int64_t *shape, int64_t ndim, double low, double high, int32_t dtype,
              int32_t dev, int32_t dev_index, ct_generator g, ct_tensor *out) {
  CT_TRY({
    auto opts = options(dtype, dev, dev_index);
    auto size = ints(shape, ndim);
    auto gen = optional(g);
    at::Tensor r;
    switch (distribution) {
      case 0: r = at::rand(size, gen, opts); break;
      case 1: r = at::randn(size, gen, opts); break;
      case 2: r = at::randint(static_cast<int64_t>(low), static_cast<int64_t>(high), size, gen, opts); break;
      case 3: r = at::empty(size, opts).bernoulli_(low, gen); break;
      default: TORCH_CHECK(false, "unknown distribution ", distribution);
    }
    *out = wrap(std::move(r));
  })
}
int ct_random_(ct_tensor t, int32_t distribution, double a, double b, ct_generator g) {
  CT_TRY({
    at::NoGradGuard no_grad;
    if (distribution == 0)
      t->tensor.uniform_(a, b, optional(g));
    else
      t->tensor.normal_(a, b, optional(g));
  })
}
int ct_randperm(int64_t n, int32_t dev, int32_t dev_index, ct_generator g, ct_tensor *out) {
  CT_TRY(*out = wrap(at::randperm(n, optional(g), options(CT_INT64, dev, dev_index))))
}
int ct_multinomial(ct_tensor probs, int64_t n, int32_t replacement, ct_generator g, ct_tensor *out) {
  CT_TRY(*out = wrap(at::multinomial(unwrap(probs), n, replacement != 0, optional(g))))
}

int ct_to(ct_tensor t, int32_t dtype, int32_t dev, int32_t dev_index, int32_t copy, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).to(device(dev, dev_index), scalar_type(dtype), false, copy != 0)))
}
int ct_contiguous(ct_tensor t, int32_t channels_last, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous)))
}
int ct_clone(ct_tensor t, ct_tensor *out) { CT_TRY(*out = wrap(unwrap(t).clone())) }
int ct_detach(ct_tensor t, ct_tensor *out) { CT_TRY(*out = wrap(unwrap(t).detach())) }
int ct_alias(ct_tensor t, ct_tensor *out) { CT_TRY(*out = wrap(unwrap(t))) }
int ct_set_data(ct_tensor t, ct_tensor src) { CT_TRY(t->tensor.set_data(unwrap(src))) }

int ct_backward(ct_tensor t, ct_tensor grad, int32_t retain_graph) {
  CT_TRY({
    std::optional<bool> retain;
    if (retain_graph) retain = true;
    unwrap(t).backward(unwrap(grad), retain, false);
  })
}
int ct_grad(ct_tensor t, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &g = unwrap(t).grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}
int ct_set_grad(ct_tensor t, ct_tensor grad) { CT_TRY(t->tensor.mutable_grad() = unwrap(grad)) }
int ct_autograd_grad(const ct_tensor *outputs, int64_t noutputs, const ct_tensor *inputs, int64_t ninputs,
                     int32_t retain_graph, int32_t create_graph, ct_tensor *outs) {
  CT_TRY({
    std::vector<at::Tensor> o, i;
    for (int64_t k = 0; k < noutputs; ++k) o.push_back(unwrap(outputs[k]));
    for (int64_t k = 0; k < ninputs; ++k) i.push_back(unwrap(inputs[k]));
    auto grads = torch::autograd::grad(o, i, {}, retain_graph ? std::optional<bool>(true) : std::nullopt,
                                       create_graph != 0, /*allow_unused=*/true);
    for (int64_t k = 0; k < ninputs; ++k) outs[k] = grads[k].defined() ? wrap(grads[k]) : nullptr;
  })
}

}  // extern "C"
