// Shared by the shim's translation units only; never seen by Swift.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <optional>
#include <string>
#include <vector>

#include "ctorch.h"

struct ct_tensor_impl {
  at::Tensor tensor;
};

struct ct_generator_impl {
  at::Generator generator;
};

namespace ctorch {

void set_error(const char *message);

inline ct_tensor wrap(at::Tensor t) { return new ct_tensor_impl{std::move(t)}; }

// Null handles become undefined tensors, which ATen reads as "absent" for optional arguments.
inline const at::Tensor &unwrap(ct_tensor t) {
  static const at::Tensor undefined;
  return t ? t->tensor : undefined;
}

inline std::optional<at::Tensor> optional(ct_tensor t) {
  if (t == nullptr || !t->tensor.defined()) return std::nullopt;
  return t->tensor;
}

inline std::optional<at::Generator> optional(ct_generator g) {
  if (g == nullptr) return std::nullopt;
  return g->generator;
}

at::ScalarType scalar_type(int32_t dtype);
int32_t dtype_code(at::ScalarType type);
at::Device device(int32_t type, int32_t index);
at::TensorOptions options(int32_t dtype, int32_t dev, int32_t index);
at::Scalar scalar(ct_scalar s);
ct_scalar from_scalar(const at::Scalar &s);

inline at::IntArrayRef ints(const int64_t *values, int64_t n) { return at::IntArrayRef(values, static_cast<size_t>(n)); }

inline at::Reduction::Reduction reduction(int32_t r) {
  switch (r) {
    case 0: return at::Reduction::None;
    case 2: return at::Reduction::Sum;
    default: return at::Reduction::Mean;
  }
}

}  // namespace ctorch

// Runs `body`; any exception becomes status 1 with its message stored for ct_last_error().
// c10::Error is asked for its message without the C++ backtrace a user cannot act on.
#define CT_TRY(...)                                                 \
  try {                                                             \
    __VA_ARGS__;                                                       \
    return 0;                                                       \
  } catch (const c10::Error &e) {                                   \
    ctorch::set_error(e.what_without_backtrace());                  \
    return 1;                                                       \
  } catch (const std::exception &e) {                               \
    ctorch::set_error(e.what());                                    \
    return 1;                                                       \
  } catch (...) {                                                   \
    ctorch::set_error("unknown C++ exception in libtorch");         \
    return 1;                                                       \
  }
