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

}  // extern "C"
