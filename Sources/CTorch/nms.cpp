// Non-maximum suppression, which libtorch lacks. Greedy: keep the highest-scoring box, drop
// every box overlapping it by more than the threshold, repeat.
//
// Boxes already dropped are skipped, so the cost follows the number of kept boxes rather than
// the square of all boxes. Threads work on independent groups in batched NMS, and on the inner
// loop when one group is large.
#include "libtorch_check.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <map>

#include "internal.h"

using namespace ctorch;

namespace {

// Greedy NMS over boxes already sorted by decreasing score (n × 4, x1 y1 x2 y2); returns the
// positions kept, in order.
template <typename T>
std::vector<int64_t> greedy_nms(const T *b, int64_t n, double threshold) {
  std::vector<T> areas(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) areas[i] = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);
  std::vector<uint8_t> removed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  const T thr = T(threshold);
  auto suppress = [&](int64_t i, int64_t begin, int64_t end) {
    const T x1 = b[4 * i], y1 = b[4 * i + 1], x2 = b[4 * i + 2], y2 = b[4 * i + 3], area = areas[i];
    for (int64_t j = begin; j < end; ++j) {
      if (removed[j]) continue;
      const T w = std::max(T(0), std::min(x2, b[4 * j + 2]) - std::max(x1, b[4 * j]));
      const T h = std::max(T(0), std::min(y2, b[4 * j + 3]) - std::max(y1, b[4 * j + 1]));
      const T inter = w * h;
      if (inter / (area + areas[j] - inter) > thr) removed[j] = 1;
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    if (removed[i]) continue;
    keep.push_back(i);
    if (n - i > 8192) {
      at::parallel_for(i + 1, n, 4096, [&](int64_t begin, int64_t end) { suppress(i, begin, end); });
    } else {
      suppress(i, i + 1, n);
    }
  }
  return keep;
}

// Indices into `boxes` kept by NMS, by decreasing score (ties keep their input order).
template <typename T>
std::vector<int64_t> nms_indices(const T *boxes, const double *scores, const std::vector<int64_t> &members,
                                 double threshold) {
  std::vector<int64_t> order(members);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return scores[a] > scores[c]; });
  std::vector<T> sorted(order.size() * 4);
  for (size_t k = 0; k < order.size(); ++k) {
    for (int d = 0; d < 4; ++d) sorted[4 * k + d] = boxes[4 * order[k] + d];
  }
  std::vector<int64_t> kept = greedy_nms(sorted.data(), static_cast<int64_t>(order.size()), threshold);
  for (auto &k : kept) k = order[k];
  return kept;
}

struct Prepared {
  at::Tensor boxes;
  at::Tensor scores;
};

Prepared prepare(ct_tensor boxes, ct_tensor scores, const char *name) {
  const at::Tensor &b = unwrap(boxes);
  const at::Tensor &s = unwrap(scores);
  TORCH_CHECK(b.dim() == 2 && b.size(1) == 4, name, " expects boxes of shape [N, 4], got ", b.sizes());
  TORCH_CHECK(s.dim() == 1 && s.size(0) == b.size(0), name, " expects one score per box, got ", s.sizes(), " for ",
              b.size(0), " boxes");
  at::Tensor cb = b.detach().to(at::kCPU);
  if (cb.scalar_type() != at::kDouble) cb = cb.to(at::kFloat);
  return {cb.contiguous(), s.detach().to(at::kCPU).to(at::kDouble).contiguous()};
}

at::Tensor to_tensor(const std::vector<int64_t> &v, const at::Device &device) {
  return at::from_blob(const_cast<int64_t *>(v.data()), {static_cast<int64_t>(v.size())}, at::kLong).clone().to(device);
}

}  // namespace

extern "C" {

int ct_nms(ct_tensor boxes, ct_tensor scores, double iou_threshold, ct_tensor *out) {
  CT_TRY({
    Prepared p = prepare(boxes, scores, "nms");
    std::vector<int64_t> all(static_cast<size_t>(p.boxes.size(0)));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    std::vector<int64_t> keep;
    AT_DISPATCH_FLOATING_TYPES(p.boxes.scalar_type(), "nms", [&] {
      keep = nms_indices(p.boxes.data_ptr<scalar_t>(), p.scores.data_ptr<double>(), all, iou_threshold);
    });
    *out = wrap(to_tensor(keep, unwrap(boxes).device()));
  })
}

int ct_batched_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, double iou_threshold, ct_tensor *out) {
  CT_TRY({
    Prepared p = prepare(boxes, scores, "batched nms");
    at::Tensor g = unwrap(groups).detach().to(at::kCPU).to(at::kLong).contiguous();
    TORCH_CHECK(g.dim() == 1 && g.size(0) == p.boxes.size(0), "batched nms expects one group id per box");
    // Boxes of one group at a time, so coordinates are never shifted (shifting costs precision).
    std::map<int64_t, std::vector<int64_t>> members;
    const int64_t *id = g.data_ptr<int64_t>();
    for (int64_t i = 0; i < g.size(0); ++i) members[id[i]].push_back(i);
    std::vector<const std::vector<int64_t> *> lists;
    for (auto &entry : members) lists.push_back(&entry.second);
    std::vector<std::vector<int64_t>> kept(lists.size());
    const double *s = p.scores.data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(p.boxes.scalar_type(), "batched_nms", [&] {
      const scalar_t *b = p.boxes.data_ptr<scalar_t>();
      at::parallel_for(0, static_cast<int64_t>(lists.size()), 1, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) kept[k] = nms_indices(b, s, *lists[k], iou_threshold);
      });
    });
    std::vector<int64_t> all;
    for (auto &k : kept) all.insert(all.end(), k.begin(), k.end());
    std::stable_sort(all.begin(), all.end(), [&](int64_t a, int64_t c) { return s[a] > s[c]; });
    *out = wrap(to_tensor(all, unwrap(boxes).device()));
  })
}

}  // extern "C"
