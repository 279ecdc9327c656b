// Non-maximum suppression, which libtorch lacks. Greedy: keep the highest-scoring box, drop
// every box overlapping it by more than the threshold, repeat.
//
// Boxes already dropped are skipped, so the cost follows the number of kept boxes rather than
// the square of all boxes. Threads work on independent groups in batched NMS, and on the inner
// loop when one group is large.
#include "libtorch_check.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
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

// Soft-NMS over one group: repeatedly keeps the best remaining box and decays the others by their
// overlap with it (linear: 1 - IoU once IoU reaches the threshold; Gaussian: exp(-IoU^2 / sigma));
// a box whose score falls below min_score leaves. Scores are decayed in the boxes' precision, as
// mmcv does in float32. Returns (index, decayed score) pairs in the order kept.
template <typename T>
std::vector<std::pair<int64_t, double>> soft_nms_group(const T *b, const double *scores,
                                                       const std::vector<int64_t> &members, int method,
                                                       double iou_threshold, double sigma, double min_score) {
  std::vector<int64_t> index(members);
  std::vector<T> score(index.size());
  for (size_t k = 0; k < index.size(); ++k) score[k] = T(scores[index[k]]);
  auto area = [&](int64_t i) { return (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]); };
  std::vector<std::pair<int64_t, double>> kept;
  size_t active = index.size();
  const T threshold = T(iou_threshold), floor = T(min_score), s = T(sigma);
  while (active > 0) {
    size_t best = 0;
    for (size_t k = 1; k < active; ++k) {
      if (score[k] > score[best]) best = k;
    }
    const int64_t i = index[best];
    kept.emplace_back(i, double(score[best]));
    // Remove the kept box, keeping the remaining boxes' relative order.
    index.erase(index.begin() + static_cast<std::ptrdiff_t>(best));
    score.erase(score.begin() + static_cast<std::ptrdiff_t>(best));
    --active;
    const T x1 = b[4 * i], y1 = b[4 * i + 1], x2 = b[4 * i + 2], y2 = b[4 * i + 3], a = area(i);
    size_t write = 0;
    for (size_t k = 0; k < active; ++k) {
      const int64_t j = index[k];
      const T w = std::max(T(0), std::min(x2, b[4 * j + 2]) - std::max(x1, b[4 * j]));
      const T h = std::max(T(0), std::min(y2, b[4 * j + 3]) - std::max(y1, b[4 * j + 1]));
      const T inter = w * h;
      T decayed = score[k];
      // Disjoint boxes keep their score (both decays give weight 1 at IoU 0) without the
      // division and exp; degenerate boxes (zero area, untrained heads) overlap nothing.
      const T merged = a + area(j) - inter;
      if (inter > T(0) && merged > T(0)) {
        const T iou = inter / merged;
        if (method == 0) {
          if (iou >= threshold) decayed *= T(1) - iou;
        } else {
          decayed *= std::exp(-(iou * iou) / s);
        }
      }
      if (decayed < floor) continue;
      index[write] = j;
      score[write] = decayed;
      ++write;
    }
    active = write;
    index.resize(active);
    score.resize(active);
  }
  return kept;
}

// Weighted NMS over one group (SimpleDet's weighted NMS, without its +1 pixel): the best remaining
// box is kept, its box replaced by the score-weighted mean of the boxes overlapping it by more than
// voting_threshold (itself included), and the boxes overlapping it by more than iou_threshold
// leave. Returns the kept indices by decreasing score, with their fused boxes (4 per index).
template <typename T>
std::pair<std::vector<int64_t>, std::vector<double>> weighted_nms_group(const T *b, const double *scores,
                                                                        const std::vector<int64_t> &members,
                                                                        double iou_threshold,
                                                                        double voting_threshold) {
  std::vector<int64_t> order(members);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return scores[a] > scores[c]; });
  auto iou = [&](int64_t i, int64_t j) {
    const T w = std::max(T(0), std::min(b[4 * i + 2], b[4 * j + 2]) - std::max(b[4 * i], b[4 * j]));
    const T h = std::max(T(0), std::min(b[4 * i + 3], b[4 * j + 3]) - std::max(b[4 * i + 1], b[4 * j + 1]));
    const T inter = w * h;
    const T ai = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);
    const T aj = (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]);
    const T merged = ai + aj - inter;
    return merged > T(0) ? double(inter / merged) : 0.0;
  };
  std::vector<uint8_t> removed(order.size(), 0);
  std::vector<int64_t> kept;
  std::vector<double> fused;
  for (size_t k = 0; k < order.size(); ++k) {
    if (removed[k]) continue;
    const int64_t i = order[k];
    double sum[4] = {0, 0, 0, 0}, weight = 0;
    for (size_t m = k; m < order.size(); ++m) {
      if (removed[m]) continue;
      const int64_t j = order[m];
      const double overlap = m == k ? 1.0 : iou(i, j);
      if (overlap > voting_threshold || m == k) {
        for (int d = 0; d < 4; ++d) sum[d] += scores[j] * double(b[4 * j + d]);
        weight += scores[j];
      }
      if (m == k || overlap > iou_threshold) removed[m] = 1;
    }
    kept.push_back(i);
    for (int d = 0; d < 4; ++d) fused.push_back(weight > 0 ? sum[d] / weight : double(b[4 * i + d]));
  }
  return {kept, fused};
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

int ct_soft_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, int32_t method, double iou_threshold,
                double sigma, double min_score, ct_tensor *keep, ct_tensor *kept_scores) {
  CT_TRY({
    Prepared p = prepare(boxes, scores, "soft nms");
    TORCH_CHECK(method == 0 || method == 1, "soft nms: method must be 0 (linear) or 1 (gaussian), got ", method);
    TORCH_CHECK(sigma > 0, "soft nms: sigma must be positive, got ", sigma);
    at::Tensor g = unwrap(groups).detach().to(at::kCPU).to(at::kLong).contiguous();
    TORCH_CHECK(g.dim() == 1 && g.size(0) == p.boxes.size(0), "soft nms expects one group id per box");
    std::map<int64_t, std::vector<int64_t>> members;
    const int64_t *id = g.data_ptr<int64_t>();
    for (int64_t i = 0; i < g.size(0); ++i) members[id[i]].push_back(i);
    std::vector<const std::vector<int64_t> *> lists;
    for (auto &entry : members) lists.push_back(&entry.second);
    std::vector<std::vector<std::pair<int64_t, double>>> kept(lists.size());
    const double *s = p.scores.data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(p.boxes.scalar_type(), "soft_nms", [&] {
      const scalar_t *b = p.boxes.data_ptr<scalar_t>();
      at::parallel_for(0, static_cast<int64_t>(lists.size()), 1, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
          kept[k] = soft_nms_group(b, s, *lists[k], method, iou_threshold, sigma, min_score);
        }
      });
    });
    std::vector<std::pair<int64_t, double>> all;
    for (auto &k : kept) all.insert(all.end(), k.begin(), k.end());
    std::stable_sort(all.begin(), all.end(), [](const auto &a, const auto &c) { return a.second > c.second; });
    std::vector<int64_t> indices;
    std::vector<double> decayed;
    for (auto &entry : all) {
      indices.push_back(entry.first);
      decayed.push_back(entry.second);
    }
    const at::Device device = unwrap(boxes).device();
    *keep = wrap(to_tensor(indices, device));
    *kept_scores = wrap(at::from_blob(decayed.data(), {static_cast<int64_t>(decayed.size())}, at::kDouble)
                            .clone()
                            .to(unwrap(scores).scalar_type())
                            .to(device));
  })
}

int ct_weighted_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, double iou_threshold, double voting_threshold,
                    ct_tensor *keep, ct_tensor *fused_boxes) {
  CT_TRY({
    Prepared p = prepare(boxes, scores, "weighted nms");
    at::Tensor g = unwrap(groups).detach().to(at::kCPU).to(at::kLong).contiguous();
    TORCH_CHECK(g.dim() == 1 && g.size(0) == p.boxes.size(0), "weighted nms expects one group id per box");
    std::map<int64_t, std::vector<int64_t>> members;
    const int64_t *id = g.data_ptr<int64_t>();
    for (int64_t i = 0; i < g.size(0); ++i) members[id[i]].push_back(i);
    std::vector<const std::vector<int64_t> *> lists;
    for (auto &entry : members) lists.push_back(&entry.second);
    std::vector<std::pair<std::vector<int64_t>, std::vector<double>>> kept(lists.size());
    const double *s = p.scores.data_ptr<double>();
    AT_DISPATCH_FLOATING_TYPES(p.boxes.scalar_type(), "weighted_nms", [&] {
      const scalar_t *b = p.boxes.data_ptr<scalar_t>();
      at::parallel_for(0, static_cast<int64_t>(lists.size()), 1, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) {
          kept[k] = weighted_nms_group(b, s, *lists[k], iou_threshold, voting_threshold);
        }
      });
    });
    // (index, position of its fused box) pairs, merged by decreasing score.
    std::vector<std::pair<int64_t, const double *>> all;
    for (auto &group : kept) {
      for (size_t k = 0; k < group.first.size(); ++k) all.emplace_back(group.first[k], &group.second[4 * k]);
    }
    std::stable_sort(all.begin(), all.end(), [&](const auto &a, const auto &c) { return s[a.first] > s[c.first]; });
    std::vector<int64_t> indices;
    std::vector<double> merged;
    for (auto &entry : all) {
      indices.push_back(entry.first);
      merged.insert(merged.end(), entry.second, entry.second + 4);
    }
    const at::Device device = unwrap(boxes).device();
    *keep = wrap(to_tensor(indices, device));
    *fused_boxes = wrap(at::from_blob(merged.data(), {static_cast<int64_t>(indices.size()), 4}, at::kDouble)
                            .clone()
                            .to(unwrap(boxes).scalar_type())
                            .to(device));
  })
}

}  // extern "C"
