// Peak bytes held by CPU tensors: an allocator in front of c10's own CPU allocation that counts
// what is live. Installed on request (the benchmark), so ordinary runs keep libtorch's allocator.
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

#include "internal.h"

namespace {

std::atomic<int64_t> live_bytes{0};
std::atomic<int64_t> peak_bytes{0};

// A measurement of one thread's allocations (tests that compare the memory two computations
// keep, while other tests allocate on other threads): blocks allocated on the measuring thread
// while it is open carry its generation, and count until freed, on whatever thread, unless the
// measurement has ended. One at a time per process.
std::atomic<int64_t> next_generation{0};
std::atomic<int64_t> open_generation{0};  // 0: none open
std::atomic<int64_t> scope_live{0};
std::atomic<int64_t> scope_peak{0};
thread_local int64_t thread_generation = 0;

void raise_peak(std::atomic<int64_t> &peak, int64_t now) {
  int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
}

// Each block carries its size (and the generation of the measurement it counts for, or 0) in a
// header one alignment unit long, so the data pointer is also the deleter's context (ideep's
// `raw_allocate` needs that) and stays 64-byte aligned.
constexpr size_t header = 64;

// The blocks this allocator made. ideep frees what it got from `raw_allocate` with the raw
// deleter of the allocator current at free time: a block allocated by libtorch's own allocator
// just before this one was installed (a convolution running on another thread while a test
// starts counting) comes back here and must go to c10's `free_cpu` as it is. Leaked on purpose,
// so that tensors freed during static destruction still find it.
std::mutex blocks_mutex;
auto *blocks = new std::unordered_set<void *>();

void release(void *data) {
  if (!data) return;
  {
    std::lock_guard<std::mutex> lock(blocks_mutex);
    blocks->erase(data);
  }
  auto *base = static_cast<char *>(data) - header;
  const auto n = static_cast<int64_t>(*reinterpret_cast<size_t *>(base));
  live_bytes.fetch_sub(n);
  const int64_t generation = *reinterpret_cast<int64_t *>(base + sizeof(size_t));
  if (generation != 0 && generation == open_generation.load()) scope_live.fetch_sub(n);
  c10::free_cpu(base);
}

void release_raw(void *data) {
  if (!data) return;
  bool ours;
  {
    std::lock_guard<std::mutex> lock(blocks_mutex);
    ours = blocks->count(data) != 0;
  }
  if (ours) {
    release(data);
  } else {
    c10::free_cpu(data);
  }
}

struct CountingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    auto *base = static_cast<char *>(c10::alloc_cpu(n + header));
    *reinterpret_cast<size_t *>(base) = n;
    const int64_t generation = thread_generation != 0 && thread_generation == open_generation.load() ? thread_generation : 0;
    *reinterpret_cast<int64_t *>(base + sizeof(size_t)) = generation;
    raise_peak(peak_bytes, live_bytes.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n));
    if (generation != 0) raise_peak(scope_peak, scope_live.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n));
    void *data = base + header;
    {
      std::lock_guard<std::mutex> lock(blocks_mutex);
      blocks->insert(data);
    }
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release_raw; }
  void copy_data(void *dest, const void *src, std::size_t count) const override { default_copy_data(dest, src, count); }
};

CountingAllocator counting;
std::once_flag installed;

}  // namespace

extern "C" {

void ct_memory_tracking_start(void) {
  std::call_once(installed, [] { c10::SetCPUAllocator(&counting, /*priority=*/100); });
}

void ct_memory_stats(int64_t *live, int64_t *peak) {
  *live = live_bytes.load();
  *peak = peak_bytes.load();
}

void ct_memory_reset_peak(void) { peak_bytes.store(live_bytes.load()); }

void ct_memory_thread_measure_begin(void) {
  ct_memory_tracking_start();
  scope_live.store(0);
  scope_peak.store(0);
  thread_generation = next_generation.fetch_add(1) + 1;
  open_generation.store(thread_generation);
}

int64_t ct_memory_thread_measure_end(void) {
  open_generation.store(0);
  thread_generation = 0;
  return scope_peak.load();
}

}  // extern "C"
