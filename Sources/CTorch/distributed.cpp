// Data-parallel training on libtorch's own collective engine, c10d: a TCPStore for rendezvous,
// ProcessGroupGloo for the collectives, and c10d's Reducer (what PyTorch's DistributedDataParallel
// drives from Python) for gradient averaging in buckets launched from autograd hooks while
// backward still runs. The wheel ships c10d's headers but not gloo's: Debian's libgloo-dev
// provides those, and only types that sit behind pointers (the transport device) come from them.
#include "libtorch_check.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <c10/util/Logging.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "internal.h"
#include "process_group.h"

using namespace ctorch;

namespace {

// The process group proper: a Gloo backend on `store` (prefixed, so several groups share one
// store), registered as the CPU backend of a c10d ProcessGroup.
c10::intrusive_ptr<c10d::ProcessGroup> make_group(const c10::intrusive_ptr<c10d::Store> &base, const std::string &prefix,
                                                  int rank, int size,
                                                  const std::shared_ptr<::gloo::transport::Device> &device,
                                                  std::chrono::milliseconds timeout) {
  auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, base);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(device);
  options->threads = 2;
  auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
  auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
  group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, backend);
  return group;
}

c10d::ReduceOp reduce_op(int32_t op) {
  switch (op) {
    case 1: return c10d::ReduceOp::MAX;
    case 2: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

// What the gradient buckets of one backward pass moved and when, for the metrics log.
struct CommunicationStats {
  std::mutex lock;
  int64_t bytes = 0;
  std::vector<std::pair<double, double>> intervals;  // [launch, completion] per bucket, seconds

  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  void reset() {
    std::lock_guard<std::mutex> guard(lock);
    bytes = 0;
    intervals.clear();
  }

  size_t launched(int64_t moved) {
    std::lock_guard<std::mutex> guard(lock);
    bytes += moved;
    intervals.emplace_back(now(), -1.0);
    return intervals.size() - 1;
  }

  void completed(size_t slot) {
    std::lock_guard<std::mutex> guard(lock);
    if (slot < intervals.size()) intervals[slot].second = now();
  }

  // The share of the buckets' communication time that overlapped backward: everything before
  // the last bucket was launched (the last gradient was ready then) counts as hidden.
  double hidden_share() {
    std::lock_guard<std::mutex> guard(lock);
    if (intervals.empty()) return 0;
    auto sorted = intervals;
    std::sort(sorted.begin(), sorted.end());
    double busy = 0, end = -1e300, last_launch = -1e300, last_completion = -1e300;
    for (const auto &[start, stop] : sorted) {
      if (stop < 0) continue;
      last_launch = std::max(last_launch, start);
      last_completion = std::max(last_completion, stop);
      const double from = std::max(start, end);
      if (stop > from) busy += stop - from;
      end = std::max(end, stop);
    }
    if (busy <= 0) return 1;
    const double exposed = std::max(0.0, last_completion - last_launch);
    return std::clamp(1.0 - exposed / busy, 0.0, 1.0);
  }
};

// Averages a gradient bucket across ranks, optionally sent as float16 or bfloat16 (divided by
// the world size before the sum, as PyTorch's compression hooks do, so float16 does not
// overflow) and widened back into the bucket afterwards.
class AveragingHook : public c10d::CommHookInterface {
 public:
  AveragingHook(c10::intrusive_ptr<c10d::ProcessGroup> group, std::optional<at::ScalarType> wire,
                std::shared_ptr<CommunicationStats> stats)
      : group_(std::move(group)), wire_(wire), stats_(std::move(stats)) {}

  c10::intrusive_ptr<c10::ivalue::Future> runHook(c10d::GradBucket &bucket) override {
    auto buffer = bucket.getBufferRef();
    auto sent = wire_ ? buffer.to(*wire_) : buffer;
    sent.div_(group_->getSize());
    const size_t slot = stats_->launched(sent.numel() * static_cast<int64_t>(sent.element_size()));
    std::vector<at::Tensor> tensors{sent};
    auto future = group_->allreduce(tensors)->getFuture();
    auto stats = stats_;
    const bool widen = wire_.has_value();
    return future->then(
        [stats, slot, buffer, widen](c10::ivalue::Future &done) {
          auto reduced = done.value().toTensorVector()[0];
          if (widen) {
            buffer.copy_(reduced);
            reduced = buffer;
          }
          stats->completed(slot);
          return c10::IValue(reduced);
        },
        c10::TensorType::get());
  }

  at::Tensor parseHookResult(const c10::IValue &result) override { return c10d::detail::parseCppCommHookResult(result); }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  std::optional<at::ScalarType> wire_;
  std::shared_ptr<CommunicationStats> stats_;
};

// The Reducer's two advisory warnings say nothing a SimpleDet user can act on: it looks for
// unused parameters because the config asks it to (a step of a detector may skip a branch), and
// the gradients of 1×1 convolutions in channels-last layout are copied into their buckets by
// stride. Every other warning reaches the handler that was there before.
class ReducerWarningFilter : public c10::WarningHandler {
 public:
  explicit ReducerWarningFilter(c10::WarningHandler *next) : next_(next) {}

  void process(const c10::Warning &warning) override {
    const auto &message = warning.msg();
    if (message.rfind("find_unused_parameters=True was specified", 0) == 0 ||
        message.rfind("Grad strides do not match bucket view strides", 0) == 0)
      return;
    next_->process(warning);
  }

 private:
  c10::WarningHandler *next_;
};

void filter_reducer_warnings() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    static ReducerWarningFilter filter(c10::WarningUtils::get_warning_handler());
    c10::WarningUtils::set_warning_handler(&filter);
  });
}

}  // namespace

struct ct_reducer_impl {
  std::unique_ptr<c10d::Reducer> reducer;
  std::shared_ptr<CommunicationStats> stats;
};

extern "C" int ct_process_group_create(const char *master_address, int32_t master_port, int32_t rank,
                                       int32_t world_size, const char *local_address, const char *interface_name,
                                       int64_t timeout_ms, ct_process_group *out) {
  CT_TRY({
    // c10d logs every retry and failure on standard error; SimpleDet reports the failure it
    // ends in as one line instead, unless the user asked for c10d's log (TORCH_CPP_LOG_LEVEL).
    if (!std::getenv("TORCH_CPP_LOG_LEVEL")) FLAGS_caffe2_log_level = 3;
    const std::chrono::milliseconds timeout(timeout_ms);
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(master_port);
    options.isServer = rank == 0;
    options.numWorkers = static_cast<size_t>(world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(master_address, options);
    std::shared_ptr<::gloo::transport::Device> device =
        interface_name && *interface_name ? c10d::ProcessGroupGloo::createDeviceForInterface(interface_name)
                                          : c10d::ProcessGroupGloo::createDeviceForHostname(local_address);
    auto group = make_group(store, "default/", rank, world_size, device, timeout);
    *out = new ct_process_group_impl{store, group, device, timeout, rank, world_size};
  });
}

extern "C" int ct_process_group_new_group(ct_process_group base, const char *name, ct_process_group *out) {
  CT_TRY({
    auto group = make_group(base->store, std::string(name) + "/", base->rank, base->size, base->device, base->timeout);
    *out = new ct_process_group_impl{base->store, group, base->device, base->timeout, base->rank, base->size};
  });
}

extern "C" void ct_process_group_free(ct_process_group group) {
  try {
    delete group;
  } catch (...) {
  }
}

extern "C" int ct_process_group_allreduce(ct_process_group group, ct_tensor tensor, int32_t op) {
  CT_TRY({
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> tensors{unwrap(tensor)};
    c10d::AllreduceOptions options;
    options.reduceOp = reduce_op(op);
    group->group->allreduce(tensors, options)->wait();
  });
}

extern "C" int ct_process_group_broadcast(ct_process_group group, const ct_tensor *tensors, int64_t count, int32_t root) {
  CT_TRY({
    // Collectives overwrite their tensors: weights too, which autograd must not record.
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> list;
    for (int64_t i = 0; i < count; ++i) list.push_back(unwrap(tensors[i]));
    // Small tensors travel together in 16 MiB buffers, as DistributedDataParallel syncs modules.
    c10d::broadcast_coalesced(group->group, list, 16 << 20, root);
  });
}

extern "C" int ct_process_group_barrier(ct_process_group group) {
  CT_TRY({ group->group->barrier()->wait(); });
}

extern "C" int ct_process_group_allgather(ct_process_group group, ct_tensor tensor, ct_tensor *out) {
  CT_TRY({
    const auto &input = unwrap(tensor);
    std::vector<at::Tensor> parts;
    for (int i = 0; i < group->size; ++i) parts.push_back(at::empty_like(input));
    std::vector<std::vector<at::Tensor>> outputs{parts};
    std::vector<at::Tensor> inputs{input};
    group->group->allgather(outputs, inputs)->wait();
    *out = wrap(at::stack(outputs[0]));
  });
}

extern "C" int ct_store_set(ct_process_group group, const char *key, const uint8_t *bytes, int64_t length) {
  CT_TRY({ group->store->set(key, std::vector<uint8_t>(bytes, bytes + length)); });
}

extern "C" int ct_store_get(ct_process_group group, const char *key, uint8_t **bytes, int64_t *length) {
  CT_TRY({
    auto value = group->store->get(key);
    *length = static_cast<int64_t>(value.size());
    *bytes = static_cast<uint8_t *>(std::malloc(std::max<size_t>(value.size(), 1)));
    if (!*bytes) throw std::bad_alloc();
    std::memcpy(*bytes, value.data(), value.size());
  });
}

extern "C" int ct_store_delete(ct_process_group group, const char *key) {
  CT_TRY({ group->store->deleteKey(key); });
}

extern "C" void ct_bytes_free(uint8_t *bytes) { std::free(bytes); }

extern "C" int ct_reducer_create(ct_process_group group, const ct_tensor *parameters, int64_t count,
                                 int64_t bucket_bytes, int64_t first_bucket_bytes, int32_t find_unused,
                                 int32_t wire_dtype, ct_reducer *out) {
  CT_TRY({
    filter_reducer_warnings();
    std::vector<at::Tensor> params;
    for (int64_t i = 0; i < count; ++i) params.push_back(unwrap(parameters[i]));
    const std::vector<bool> sparse(params.size(), false);
    // Buckets fill in the parameters' order (the order of the forward pass) and are reversed,
    // so that the first bucket launched holds the last layers, whose gradients come first.
    auto [indices, limits] = c10d::compute_bucket_assignment_by_size(
        params, {static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)}, sparse);
    std::reverse(indices.begin(), indices.end());
    std::reverse(limits.begin(), limits.end());
    std::vector<int64_t> caps(limits.begin(), limits.end());
    auto stats = std::make_shared<CommunicationStats>();
    auto reducer = std::make_unique<c10d::Reducer>(
        params, indices, group->group, sparse, bucket_bytes, find_unused != 0, /*gradient_as_bucket_view=*/false,
        std::unordered_map<size_t, std::string>{}, first_bucket_bytes, /*skip_all_reduce_unused_params=*/false,
        /*use_python_reducer=*/false, caps);
    std::optional<at::ScalarType> wire;
    if (wire_dtype >= 0 && scalar_type(wire_dtype) != at::kFloat) wire = scalar_type(wire_dtype);
    reducer->register_comm_hook(std::make_unique<AveragingHook>(group->group, wire, stats));
    *out = new ct_reducer_impl{std::move(reducer), stats};
  });
}

extern "C" void ct_reducer_free(ct_reducer reducer) {
  try {
    delete reducer;
  } catch (...) {
  }
}

extern "C" int ct_reducer_prepare_for_forward(ct_reducer reducer) {
  CT_TRY({
    reducer->reducer->rebuild_buckets();
    reducer->reducer->prepare_for_forward();
  });
}

extern "C" int ct_reducer_prepare_for_backward(ct_reducer reducer, const ct_tensor *outputs, int64_t count) {
  CT_TRY({
    std::vector<at::Tensor> list;
    for (int64_t i = 0; i < count; ++i) list.push_back(unwrap(outputs[i]));
    reducer->stats->reset();
    reducer->reducer->prepare_for_backward(list);
  });
}

extern "C" void ct_reducer_last_backward(ct_reducer reducer, int64_t *bytes, double *hidden_share) {
  *bytes = reducer->stats->bytes;
  *hidden_share = reducer->stats->hidden_share();
}
