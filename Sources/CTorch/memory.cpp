// Peak bytes held by CPU tensors: an allocator in front of c10's own CPU allocation that counts
// what is live. Installed on request (the benchmark), so ordinary runs keep libtorch's allocator.
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <atomic>
#include <mutex>

#include "internal.h"

namespace {

std::atomic<int64_t> live_bytes{0};
std::atomic<int64_t> peak_bytes{0};

// Each block carries its size in a header one alignment unit long, so the data pointer is also
// the deleter's context (ideep's `raw_allocate` needs that) and stays 64-byte aligned.
constexpr size_t header = 64;

void release(void *data) {
  if (!data) return;
  auto *base = static_cast<char *>(data) - header;
  live_bytes.fetch_sub(static_cast<int64_t>(*reinterpret_cast<size_t *>(base)));
  c10::free_cpu(base);
}

struct CountingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    auto *base = static_cast<char *>(c10::alloc_cpu(n + header));
    *reinterpret_cast<size_t *>(base) = n;
    int64_t now = live_bytes.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = peak_bytes.load();
    while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {}
    void *data = base + header;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
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

}  // extern "C"
