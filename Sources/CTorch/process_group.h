// The process group behind a `ct_process_group` handle: shared by distributed.cpp, which makes
// and drives it, and the collectives inside autograd functions (sync_batch_norm.cpp). Never seen
// by Swift. Only a pointer to gloo's transport device is held, so its declaration suffices.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <memory>

namespace gloo::transport {
class Device;
}  // namespace gloo::transport

struct ct_process_group_impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::shared_ptr<::gloo::transport::Device> device;
  std::chrono::milliseconds timeout;
  int rank;
  int size;
};
