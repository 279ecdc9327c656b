// Shape manipulation, joining and splitting, and indexing.
#include "libtorch_check.h"

#include "internal.h"

using namespace ctorch;

namespace {

std::vector<at::Tensor> tensors(const ct_tensor *ts, int64_t n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) v.push_back(unwrap(ts[k]));
  return v;
}

void hand_out(const std::vector<at::Tensor> &pieces, ct_tensor *outs, int64_t cap, int64_t *count) {
  *count = static_cast<int64_t>(pieces.size());
  for (int64_t k = 0; k < *count && k < cap; ++k) outs[k] = wrap(pieces[k]);
}

// An index list with `dim` leading full slices, so one index tensor applies at dimension `dim`.
c10::List<std::optional<at::Tensor>> indices_at(const at::Tensor &t, int64_t dim, const at::Tensor &index) {
  dim = c10::maybe_wrap_dim(dim, t.dim());
  c10::List<std::optional<at::Tensor>> list;
  for (int64_t k = 0; k < dim; ++k) list.push_back(std::nullopt);
  list.push_back(index);
  return list;
}

// An index list from handles; NULL entries are full slices.
c10::List<std::optional<at::Tensor>> indices_from(const ct_tensor *indices, int64_t n) {
  c10::List<std::optional<at::Tensor>> list;
  for (int64_t k = 0; k < n; ++k) {
    if (indices[k] == nullptr) {
      list.push_back(std::nullopt);
    } else {
      TORCH_CHECK(indices[k]->tensor.defined(), "index ", k, " is undefined (the result of a failed operation)");
      list.push_back(indices[k]->tensor);
    }
  }
  return list;
}

}  // namespace

extern "C" {

int ct_reshape(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).reshape(ints(shape, ndim))))
}
int ct_view(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).view(ints(shape, ndim))))
}
int ct_permute(ct_tensor t, const int64_t *dims, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).permute(ints(dims, ndim))))
}
int ct_transpose(ct_tensor t, int64_t d0, int64_t d1, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).transpose(d0, d1)))
}
int ct_squeeze(ct_tensor t, int32_t has_dim, int64_t dim, ct_tensor *out) {
  CT_TRY(*out = wrap(has_dim ? unwrap(t).squeeze(dim) : unwrap(t).squeeze()))
}
int ct_unsqueeze(ct_tensor t, int64_t dim, ct_tensor *out) { CT_TRY(*out = wrap(unwrap(t).unsqueeze(dim))) }
int ct_flatten(ct_tensor t, int64_t start, int64_t end, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).flatten(start, end)))
}
int ct_expand(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).expand(ints(shape, ndim))))
}
int ct_repeat(ct_tensor t, const int64_t *repeats, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).repeat(ints(repeats, ndim))))
}
int ct_flip(ct_tensor t, const int64_t *dims, int64_t ndim, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).flip(ints(dims, ndim))))
}
int ct_cat(const ct_tensor *ts, int64_t n, int64_t dim, ct_tensor *out) {
  CT_TRY(*out = wrap(at::cat(tensors(ts, n), dim)))
}
int ct_stack(const ct_tensor *ts, int64_t n, int64_t dim, ct_tensor *out) {
  CT_TRY(*out = wrap(at::stack(tensors(ts, n), dim)))
}
int ct_split(ct_tensor t, const int64_t *sizes, int64_t nsizes, int64_t dim, ct_tensor *outs, int64_t cap,
             int64_t *count) {
  CT_TRY(hand_out(at::split_with_sizes(unwrap(t), ints(sizes, nsizes), dim), outs, cap, count))
}
int ct_chunk(ct_tensor t, int64_t chunks, int64_t dim, ct_tensor *outs, int64_t cap, int64_t *count) {
  CT_TRY(hand_out(at::chunk(unwrap(t), chunks, dim), outs, cap, count))
}
int ct_slice(ct_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).slice(dim, start, end, step)))
}
int ct_select(ct_tensor t, int64_t dim, int64_t index, ct_tensor *out) {
  CT_TRY(*out = wrap(unwrap(t).select(dim, index)))
}
int ct_index_select(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out) {
  CT_TRY(*out = wrap(at::index_select(unwrap(t), dim, unwrap(index))))
}
int ct_index(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out) {
  CT_TRY(*out = wrap(at::index(unwrap(t), indices_at(unwrap(t), dim, unwrap(index)))))
}
int ct_index_put_(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor values, int32_t accumulate) {
  CT_TRY(at::index_put_(t->tensor, indices_at(t->tensor, dim, unwrap(index)), unwrap(values), accumulate != 0))
}
int ct_index_tensors(ct_tensor t, const ct_tensor *indices, int64_t n, ct_tensor *out) {
  CT_TRY(*out = wrap(at::index(unwrap(t), indices_from(indices, n))))
}
int ct_index_put_tensors_(ct_tensor t, const ct_tensor *indices, int64_t n, ct_tensor values, int32_t accumulate) {
  CT_TRY(at::index_put_(t->tensor, indices_from(indices, n), unwrap(values), accumulate != 0))
}
int ct_gather(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out) {
  CT_TRY(*out = wrap(at::gather(unwrap(t), dim, unwrap(index))))
}
int ct_scatter(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor src, int32_t reduce, ct_tensor *out) {
  CT_TRY(*out = wrap(reduce == 1 ? at::scatter_add(unwrap(t), dim, unwrap(index), unwrap(src))
                                 : at::scatter(unwrap(t), dim, unwrap(index), unwrap(src))))
}
int ct_masked_select(ct_tensor t, ct_tensor mask, ct_tensor *out) {
  CT_TRY(*out = wrap(at::masked_select(unwrap(t), unwrap(mask))))
}
int ct_masked_fill(ct_tensor t, ct_tensor mask, ct_scalar value, ct_tensor *out) {
  CT_TRY(*out = wrap(at::masked_fill(unwrap(t), unwrap(mask), scalar(value))))
}
int ct_masked_fill_(ct_tensor t, ct_tensor mask, ct_scalar value) {
  CT_TRY(t->tensor.masked_fill_(unwrap(mask), scalar(value)))
}
int ct_nonzero(ct_tensor t, ct_tensor *out) { CT_TRY(*out = wrap(at::nonzero(unwrap(t)))) }
int ct_topk(ct_tensor t, int64_t k, int64_t dim, int32_t largest, int32_t sorted, ct_tensor *values,
            ct_tensor *indices) {
  CT_TRY({
    auto r = at::topk(unwrap(t), k, dim, largest != 0, sorted != 0);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int ct_sort(ct_tensor t, int64_t dim, int32_t descending, int32_t stable, ct_tensor *values, ct_tensor *indices) {
  CT_TRY({
    auto r = at::sort(unwrap(t), std::optional<bool>(stable != 0), dim, descending != 0);
    *values = wrap(std::get<0>(r));
    *indices = wrap(std::get<1>(r));
  })
}
int ct_unique(ct_tensor t, int32_t sorted, int32_t return_inverse, int32_t return_counts, ct_tensor *values,
              ct_tensor *inverse, ct_tensor *counts) {
  CT_TRY({
    auto r = at::_unique2(unwrap(t), sorted != 0, return_inverse != 0, return_counts != 0);
    *values = wrap(std::get<0>(r));
    if (inverse) *inverse = return_inverse ? wrap(std::get<1>(r)) : nullptr;
    if (counts) *counts = return_counts ? wrap(std::get<2>(r)) : nullptr;
  })
}
int ct_pad(ct_tensor t, const int64_t *pads, int64_t npads, int32_t mode, double value, ct_tensor *out) {
  CT_TRY({
    const char *name = mode == 1 ? "reflect" : mode == 2 ? "replicate" : "constant";
    std::optional<double> fill;
    if (mode == 0) fill = value;
    *out = wrap(at::pad(unwrap(t), ints(pads, npads), name, fill));
  })
}
int ct_tril(ct_tensor t, int64_t diagonal, int32_t upper, ct_tensor *out) {
  CT_TRY(*out = wrap(upper ? at::triu(unwrap(t), diagonal) : at::tril(unwrap(t), diagonal)))
}
int ct_meshgrid(const ct_tensor *ts, int64_t n, ct_tensor *outs) {
  CT_TRY({
    auto grids = at::meshgrid(tensors(ts, n), "ij");
    for (int64_t k = 0; k < n; ++k) outs[k] = wrap(grids[k]);
  })
}

}  // extern "C"
