// Element-wise arithmetic, comparisons, activations and reductions.
#include "libtorch_check.h"

#include "internal.h"

using namespace ctorch;

namespace {

at::Tensor unary(int32_t op, const at::Tensor &a) {
  switch (op) {
    case CT_NEG: return at::neg(a);
    case CT_ABS: return at::abs(a);
    case CT_EXP: return at::exp(a);
    case CT_LOG: return at::log(a);
    case CT_LOG2: return at::log2(a);
    case CT_LOG1P: return at::log1p(a);
    case CT_EXPM1: return at::expm1(a);
    case CT_SQRT: return at::sqrt(a);
    case CT_RSQRT: return at::rsqrt(a);
    case CT_SQUARE: return at::square(a);
    case CT_RECIPROCAL: return at::reciprocal(a);
    case CT_SIN: return at::sin(a);
    case CT_COS: return at::cos(a);
    case CT_TAN: return at::tan(a);
    case CT_ATAN: return at::atan(a);
    case CT_FLOOR: return at::floor(a);
    case CT_CEIL: return at::ceil(a);
    case CT_ROUND: return at::round(a);
    case CT_TRUNC: return at::trunc(a);
    case CT_SIGN: return at::sign(a);
    case CT_LOGICAL_NOT: return at::logical_not(a);
    case CT_SIGMOID: return at::sigmoid(a);
    case CT_TANH: return at::tanh(a);
    case CT_RELU: return at::relu(a);
    case CT_RELU6: return at::hardtanh(a, 0.0, 6.0);
    case CT_GELU: return at::gelu(a);
    case CT_SILU: return at::silu(a);
    case CT_SOFTPLUS: return at::softplus(a);
    case CT_LOGSIGMOID: return at::log_sigmoid(a);
    case CT_ISNAN: return at::isnan(a);
    case CT_ISFINITE: return at::isfinite(a);
    case CT_HARDSWISH: return at::hardswish(a);
    case CT_HARDSIGMOID: return at::hardsigmoid(a);
    case CT_MISH: return at::mish(a);
    case CT_ERF: return at::erf(a);
    case CT_BITWISE_NOT: return at::bitwise_not(a);
    case CT_ISINF: return at::isinf(a);
  }
  TORCH_CHECK(false, "unknown unary op ", op);
}

void unary_(int32_t op, at::Tensor &a) {
  switch (op) {
    case CT_NEG: a.neg_(); return;
    case CT_ABS: a.abs_(); return;
    case CT_EXP: a.exp_(); return;
    case CT_LOG: a.log_(); return;
    case CT_SQRT: a.sqrt_(); return;
    case CT_RSQRT: a.rsqrt_(); return;
    case CT_SQUARE: a.square_(); return;
    case CT_RECIPROCAL: a.reciprocal_(); return;
    case CT_FLOOR: a.floor_(); return;
    case CT_CEIL: a.ceil_(); return;
    case CT_ROUND: a.round_(); return;
    case CT_SIGN: a.sign_(); return;
    case CT_SIGMOID: a.sigmoid_(); return;
    case CT_TANH: a.tanh_(); return;
    case CT_RELU: a.relu_(); return;
    case CT_RELU6: at::hardtanh_(a, 0.0, 6.0); return;
    case CT_SILU: at::silu_(a); return;
    case CT_HARDSWISH: at::hardswish_(a); return;
    case CT_HARDSIGMOID: at::hardsigmoid_(a); return;
    case CT_MISH: at::mish_(a); return;
  }
  a.copy_(unary(op, a));
}

at::Tensor binary(int32_t op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case CT_ADD: return at::add(a, b);
    case CT_SUB: return at::sub(a, b);
    case CT_MUL: return at::mul(a, b);
    case CT_DIV: return at::div(a, b);
    case CT_POW: return at::pow(a, b);
    case CT_MAXIMUM: return at::maximum(a, b);
    case CT_MINIMUM: return at::minimum(a, b);
    case CT_ATAN2: return at::atan2(a, b);
    case CT_REMAINDER: return at::remainder(a, b);
    case CT_FLOOR_DIVIDE: return at::div(a, b, "floor");
    case CT_DIV_TRUNC: return at::div(a, b, "trunc");
    case CT_EQ: return at::eq(a, b);
    case CT_NE: return at::ne(a, b);
    case CT_LT: return at::lt(a, b);
    case CT_LE: return at::le(a, b);
    case CT_GT: return at::gt(a, b);
    case CT_GE: return at::ge(a, b);
    case CT_LOGICAL_AND: return at::logical_and(a, b);
    case CT_LOGICAL_OR: return at::logical_or(a, b);
    case CT_LOGICAL_XOR: return at::logical_xor(a, b);
    case CT_BITWISE_AND: return at::bitwise_and(a, b);
    case CT_BITWISE_OR: return at::bitwise_or(a, b);
    case CT_BITWISE_XOR: return at::bitwise_xor(a, b);
  }
  TORCH_CHECK(false, "unknown binary op ", op);
}

// A Swift number becomes a 0-dim "wrapped number" tensor, so type promotion treats it as
// PyTorch treats a Python scalar (int8 + 1 stays int8, int64 + 0.5 becomes float32).
at::Tensor wrapped(const at::Tensor &like, ct_scalar s) {
  at::Tensor t = at::scalar_to_tensor(scalar(s), like.device());
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

void binary_(int32_t op, at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case CT_ADD: a.add_(b); return;
    case CT_SUB: a.sub_(b); return;
    case CT_MUL: a.mul_(b); return;
    case CT_DIV: a.div_(b); return;
    case CT_POW: a.pow_(b); return;
    case CT_MAXIMUM: at::maximum_out(a, a, b); return;
    case CT_MINIMUM: at::minimum_out(a, a, b); return;
    case CT_REMAINDER: a.remainder_(b); return;
    case CT_FLOOR_DIVIDE: a.div_(b, "floor"); return;
  }
  a.copy_(binary(op, a, b));
}

}  // namespace

extern "C" {

int ct_unary(int32_t op, ct_tensor a, ct_tensor *out) { CT_TRY(*out = wrap(unary(op, unwrap(a)))) }
int ct_unary_(int32_t op, ct_tensor a) { CT_TRY(unary_(op, a->tensor)) }

int ct_binary(int32_t op, ct_tensor a, ct_tensor b, ct_tensor *out) {
  CT_TRY(*out = wrap(binary(op, unwrap(a), unwrap(b))))
}
int ct_binary_scalar(int32_t op, ct_tensor a, ct_scalar b, ct_tensor *out) {
  CT_TRY(*out = wrap(binary(op, unwrap(a), wrapped(unwrap(a), b))))
}
int ct_scalar_binary(int32_t op, ct_scalar a, ct_tensor b, ct_tensor *out) {
  CT_TRY(*out = wrap(binary(op, wrapped(unwrap(b), a), unwrap(b))))
}
int ct_binary_(int32_t op, ct_tensor a, ct_tensor b) { CT_TRY(binary_(op, a->tensor, unwrap(b))) }
int ct_binary_scalar_(int32_t op, ct_tensor a, ct_scalar b) {
  CT_TRY(binary_(op, a->tensor, wrapped(a->tensor, b)))
}

int ct_add_scaled_(ct_tensor a, ct_tensor b, ct_scalar alpha) { CT_TRY(a->tensor.add_(unwrap(b), scalar(alpha))) }
int ct_addcmul_(ct_tensor a, ct_tensor t1, ct_tensor t2, ct_scalar value) {
  CT_TRY(a->tensor.addcmul_(unwrap(t1), unwrap(t2), scalar(value)))
}
int ct_addcdiv_(ct_tensor a, ct_tensor t1, ct_tensor t2, ct_scalar value) {
  CT_TRY(a->tensor.addcdiv_(unwrap(t1), unwrap(t2), scalar(value)))
}
int ct_lerp_(ct_tensor a, ct_tensor end, ct_scalar weight) { CT_TRY(a->tensor.lerp_(unwrap(end), scalar(weight))) }
int ct_copy_(ct_tensor dst, ct_tensor src) { CT_TRY(dst->tensor.copy_(unwrap(src))) }
int ct_fill_(ct_tensor t, ct_scalar value) { CT_TRY(t->tensor.fill_(scalar(value))) }
int ct_zero_(ct_tensor t) { CT_TRY(t->tensor.zero_()) }

int ct_clamp(ct_tensor t, int32_t has_min, ct_scalar min, int32_t has_max, ct_scalar max, ct_tensor *out) {
  CT_TRY({
    std::optional<at::Scalar> lo, hi;
    if (has_min) lo = scalar(min);
    if (has_max) hi = scalar(max);
    *out = wrap(at::clamp(unwrap(t), lo, hi));
  })
}
int ct_clamp_(ct_tensor t, int32_t has_min, ct_scalar min, int32_t has_max, ct_scalar max) {
  CT_TRY({
    std::optional<at::Scalar> lo, hi;
    if (has_min) lo = scalar(min);
    if (has_max) hi = scalar(max);
    at::clamp_(t->tensor, lo, hi);
  })
}
int ct_clamp_tensor(ct_tensor t, ct_tensor min, ct_tensor max, ct_tensor *out) {
  CT_TRY(*out = wrap(at::clamp(unwrap(t), optional(min), optional(max))))
}
int ct_where(ct_tensor cond, ct_tensor a, ct_tensor b, ct_tensor *out) {
  CT_TRY(*out = wrap(at::where(unwrap(cond), unwrap(a), unwrap(b))))
}
int ct_leaky_relu(ct_tensor t, double slope, ct_tensor *out) { CT_TRY(*out = wrap(at::leaky_relu(unwrap(t), slope))) }
int ct_elu(ct_tensor t, double alpha, ct_tensor *out) { CT_TRY(*out = wrap(at::elu(unwrap(t), alpha))) }
int ct_hardtanh(ct_tensor t, double min, double max, ct_tensor *out) {
  CT_TRY(*out = wrap(at::hardtanh(unwrap(t), min, max)))
}
int ct_allclose(ct_tensor a, ct_tensor b, double rtol, double atol, int32_t equal_nan, int32_t *out) {
  CT_TRY(*out = at::allclose(unwrap(a), unwrap(b), rtol, atol, equal_nan != 0) ? 1 : 0)
}
int ct_equal(ct_tensor a, ct_tensor b, int32_t *out) { CT_TRY(*out = at::equal(unwrap(a), unwrap(b)) ? 1 : 0) }

int ct_reduce(int32_t op, ct_tensor a, const int64_t *dims, int64_t ndims, int32_t keepdim, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &x = unwrap(a);
    const bool all = ndims < 0;
    std::vector<int64_t> every;
    if (all) {
      for (int64_t d = 0; d < x.dim(); ++d) every.push_back(d);
    }
    at::IntArrayRef d = all ? at::IntArrayRef(every) : ints(dims, ndims);
    const bool keep = keepdim != 0;
    at::Tensor r;
    switch (op) {
      case CT_SUM: r = all && !keep ? at::sum(x) : at::sum(x, d, keep); break;
      case CT_MEAN: r = all && !keep ? at::mean(x) : at::mean(x, d, keep); break;
      case CT_PROD:
        if (all && !keep) {
          r = at::prod(x);
        } else {
          r = x;
          std::vector<int64_t> sorted(d.begin(), d.end());
          for (auto &v : sorted) v = c10::maybe_wrap_dim(v, x.dim());
          std::sort(sorted.rbegin(), sorted.rend());
          for (int64_t v : sorted) r = at::prod(r, v, keep);
        }
        break;
      case CT_AMAX: r = at::amax(x, d, keep); break;
      case CT_AMIN: r = at::amin(x, d, keep); break;
      case CT_ALL: r = all && !keep ? at::all(x) : at::all(x, at::OptionalIntArrayRef(d), keep); break;
      case CT_ANY: r = all && !keep ? at::any(x) : at::any(x, at::OptionalIntArrayRef(d), keep); break;
      case CT_STD: r = at::std(x, at::OptionalIntArrayRef(d), /*unbiased=*/true, keep); break;
      case CT_VAR: r = at::var(x, at::OptionalIntArrayRef(d), /*unbiased=*/true, keep); break;
      case CT_NORM2: r = at::linalg_vector_norm(x, 2, at::OptionalIntArrayRef(d), keep); break;
      case CT_LOGSUMEXP: r = at::logsumexp(x, d, keep); break;
      case CT_COUNT_NONZERO:
        r = at::count_nonzero(x, d);
        if (keep) {
          std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
          for (int64_t v : d) shape[c10::maybe_wrap_dim(v, x.dim())] = 1;
          r = r.reshape(shape);
        }
        break;
      default: TORCH_CHECK(false, "unknown reduction ", op);
    }
    *out = wrap(std::move(r));
  })
}

int ct_reduce_dim(int32_t op, ct_tensor a, int64_t dim, int32_t keepdim, ct_tensor *values, ct_tensor *indices) {
  CT_TRY({
    const at::Tensor &x = unwrap(a);
    const bool keep = keepdim != 0;
    if (indices) *indices = nullptr;
    switch (op) {
      case 0:
      case 1:
      case 4: {
        auto r = op == 0 ? at::max(x, dim, keep) : op == 1 ? at::min(x, dim, keep) : at::median(x, dim, keep);
        *values = wrap(std::get<0>(r));
        if (indices) *indices = wrap(std::get<1>(r));
        break;
      }
      case 2: *values = wrap(at::argmax(x, dim, keep)); break;
      case 3: *values = wrap(at::argmin(x, dim, keep)); break;
      case 5: *values = wrap(at::cumsum(x, dim)); break;
      case 6: *values = wrap(at::cumprod(x, dim)); break;
      default: TORCH_CHECK(false, "unknown dimension reduction ", op);
    }
  })
}

int ct_norm(ct_tensor a, double p, const int64_t *dims, int64_t ndims, int32_t keepdim, ct_tensor *out) {
  CT_TRY({
    if (ndims < 0) {
      *out = wrap(at::linalg_vector_norm(unwrap(a), p, std::nullopt, keepdim != 0));
    } else {
      const at::IntArrayRef axes = ints(dims, ndims);
      *out = wrap(at::linalg_vector_norm(unwrap(a), p, axes, keepdim != 0));
    }
  })
}

int ct_softmax(ct_tensor x, int64_t dim, int32_t log, ct_tensor *out) {
  CT_TRY(*out = wrap(log ? at::log_softmax(unwrap(x), dim) : at::softmax(unwrap(x), dim)))
}

}  // extern "C"
