// Non-maximum suppression, which libtorch lacks. Greedy: keep the highest-scoring box, drop
// every box overlapping it by more than the threshold, repeat.
//
// The pairwise overlaps are computed in parallel as one bit per (i, j > i) in 64-bit words,
// then a sequential scan in score order applies them; the scan only ORs words, so the costly
// part (n²/2 IoUs) uses every thread.
#include <ATen/Parallel.h>

#include "internal.h"

using namespace ctorch;

namespace {

template <typename T>
at::Tensor nms_kernel(const at::Tensor &boxes, const at::Tensor &scores, double threshold) {
  const int64_t n = boxes.size(0);
  if (n == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  at::Tensor sorted = boxes.index_select(0, order).contiguous();
  const T *b = sorted.data_ptr<T>();
  const int64_t words = (n + 63) / 64;
  std::vector<uint64_t> mask(static_cast<size_t>(n * words), 0);
  std::vector<T> areas(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) areas[i] = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);

  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T x1 = b[4 * i], y1 = b[4 * i + 1], x2 = b[4 * i + 2], y2 = b[4 * i + 3];
      uint64_t *row = mask.data() + i * words;
      for (int64_t j = i + 1; j < n; ++j) {
        const T w = std::max(T(0), std::min(x2, b[4 * j + 2]) - std::max(x1, b[4 * j]));
        const T h = std::max(T(0), std::min(y2, b[4 * j + 3]) - std::max(y1, b[4 * j + 1]));
        const T inter = w * h;
        const T iou = inter / (areas[i] + areas[j] - inter);
        if (iou > T(threshold)) row[j >> 6] |= uint64_t(1) << (j & 63);
      }
    }
  });

  std::vector<uint64_t> removed(static_cast<size_t>(words), 0);
  std::vector<int64_t> keep;
  keep.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (removed[i >> 6] & (uint64_t(1) << (i & 63))) continue;
    keep.push_back(i);
    const uint64_t *row = mask.data() + i * words;
    for (int64_t w = i >> 6; w < words; ++w) removed[w] |= row[w];
  }
  at::Tensor kept = at::from_blob(keep.data(), {static_cast<int64_t>(keep.size())}, at::kLong).clone();
  return order.index_select(0, kept);
}

}  // namespace

extern "C" {

int ct_nms(ct_tensor boxes, ct_tensor scores, double iou_threshold, ct_tensor *out) {
  CT_TRY({
    const at::Tensor &b = unwrap(boxes);
    const at::Tensor &s = unwrap(scores);
    TORCH_CHECK(b.dim() == 2 && b.size(1) == 4, "nms expects boxes of shape [N, 4], got ", b.sizes());
    TORCH_CHECK(s.dim() == 1 && s.size(0) == b.size(0), "nms expects one score per box, got ", s.sizes(), " for ",
                b.size(0), " boxes");
    at::Tensor cpu_boxes = b.detach().to(at::kCPU);
    at::Tensor cpu_scores = s.detach().to(at::kCPU);
    if (!at::isFloatingType(cpu_boxes.scalar_type()) || cpu_boxes.scalar_type() == at::kBFloat16 ||
        cpu_boxes.scalar_type() == at::kHalf) {
      cpu_boxes = cpu_boxes.to(at::kFloat);
    }
    at::Tensor keep;
    AT_DISPATCH_FLOATING_TYPES(cpu_boxes.scalar_type(), "nms",
                               [&] { keep = nms_kernel<scalar_t>(cpu_boxes, cpu_scores, iou_threshold); });
    *out = wrap(keep.to(b.device()));
  })
}

int ct_batched_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, double iou_threshold, ct_tensor *out) {
  CT_TRY({
    at::Tensor b = unwrap(boxes).detach().to(at::kCPU);
    at::Tensor s = unwrap(scores).detach().to(at::kCPU);
    at::Tensor g = unwrap(groups).detach().to(at::kCPU).to(at::kLong).contiguous();
    TORCH_CHECK(b.dim() == 2 && b.size(1) == 4, "batched nms expects boxes of shape [N, 4], got ", b.sizes());
    TORCH_CHECK(s.dim() == 1 && s.size(0) == b.size(0) && g.dim() == 1 && g.size(0) == b.size(0),
                "batched nms expects one score and one group per box");
    if (b.scalar_type() == at::kBFloat16 || b.scalar_type() == at::kHalf) b = b.to(at::kFloat);
    // Boxes of one group at a time, so coordinates are never shifted (shifting costs precision).
    at::Tensor ids = std::get<0>(at::_unique2(g, /*sorted=*/true, false, false));
    std::vector<at::Tensor> kept;
    const int64_t *id = ids.data_ptr<int64_t>();
    for (int64_t k = 0; k < ids.numel(); ++k) {
      at::Tensor members = at::nonzero(g == id[k]).reshape({-1});
      at::Tensor keep;
      AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "batched_nms", [&] {
        keep = nms_kernel<scalar_t>(b.index_select(0, members), s.index_select(0, members), iou_threshold);
      });
      kept.push_back(members.index_select(0, keep));
    }
    at::Tensor all = kept.empty() ? at::empty({0}, at::kLong) : at::cat(kept);
    at::Tensor order = std::get<1>(s.index_select(0, all).sort(/*stable=*/true, 0, /*descending=*/true));
    *out = wrap(all.index_select(0, order).to(unwrap(boxes).device()));
  })
}

}  // extern "C"
