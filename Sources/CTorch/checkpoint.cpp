// Activation checkpointing (Chen et al. 2016): a segment of the network runs in forward without
// recording, so only its inputs are kept; backward runs it again with recording and
// back-propagates through that copy (the "reentrant" checkpoint of torch.utils.checkpoint). The
// segment is Swift code, called back through a function pointer.
#include "libtorch_check.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/custom_class.h>

#include <stdexcept>
#include <vector>

#include "internal.h"

using namespace ctorch;
using torch::autograd::variable_list;

namespace {

// The Swift segment and its context, released when the graph node that may call it goes.
struct Segment : torch::CustomClassHolder {
  ct_segment_fn run;
  void *context;
  void (*release)(void *);
  bool autocast;
  at::ScalarType autocast_dtype;

  Segment(ct_segment_fn run, void *context, void (*release)(void *))
      : run(run), context(context), release(release),
        autocast(at::autocast::is_autocast_enabled(at::kCPU)),
        autocast_dtype(at::autocast::get_autocast_dtype(at::kCPU)) {}
  ~Segment() override {
    if (release) release(context);
  }

  variable_list operator()(const variable_list &inputs, bool recomputing) const {
    std::vector<ct_tensor> handles;
    handles.reserve(inputs.size());
    for (const auto &t : inputs) handles.push_back(wrap(t));
    std::vector<ct_tensor> outputs(64, nullptr);
    int64_t count = 0;
    // The callee owns `handles` (it wraps and frees them); `outputs` come back owned by us.
    int failed = run(context, handles.data(), static_cast<int64_t>(handles.size()), recomputing ? 1 : 0, outputs.data(),
                     static_cast<int64_t>(outputs.size()), &count);
    variable_list result;
    for (int64_t i = 0; i < count; ++i) {
      result.push_back(outputs[i]->tensor);
      ct_tensor_free(outputs[i]);
    }
    if (failed) throw std::runtime_error("a checkpointed segment failed: " + std::string(ct_last_error()));
    return result;
  }
};

// Runs `body` with CPU autocast as `segment` recorded it.
template <typename F>
auto with_autocast_of(const Segment &segment, F body) {
  const bool enabled = at::autocast::is_autocast_enabled(at::kCPU);
  const auto dtype = at::autocast::get_autocast_dtype(at::kCPU);
  at::autocast::set_autocast_enabled(at::kCPU, segment.autocast);
  at::autocast::set_autocast_dtype(at::kCPU, segment.autocast_dtype);
  at::autocast::increment_nesting();
  struct Restore {
    bool enabled;
    at::ScalarType dtype;
    ~Restore() {
      at::autocast::set_autocast_enabled(at::kCPU, enabled);
      at::autocast::set_autocast_dtype(at::kCPU, dtype);
      if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    }
  } restore{enabled, dtype};
  return body();
}

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // `parameters` are the trainable tensors the segment reads besides its inputs: inputs of this
  // node, so that the outputs require grad whenever one of them does (a frozen stem's output into
  // a trainable stage, say) and so that their gradients flow back through the ordinary graph.
  static variable_list forward(torch::autograd::AutogradContext *ctx, at::TensorList inputs, at::TensorList parameters,
                               c10::intrusive_ptr<Segment> segment) {
    variable_list kept(inputs.begin(), inputs.end());
    variable_list saved = kept;
    saved.insert(saved.end(), parameters.begin(), parameters.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["segment"] = c10::IValue::make_capsule(segment);
    ctx->saved_data["inputs"] = static_cast<int64_t>(inputs.size());
    // Grad mode is off inside a custom function's forward: nothing of the segment is recorded.
    return (*segment)(kept, false);
  }

  static variable_list backward(torch::autograd::AutogradContext *ctx, variable_list grad_outputs) {
    auto segment = c10::static_intrusive_pointer_cast<Segment>(ctx->saved_data["segment"].toCapsule());
    const auto count = static_cast<size_t>(ctx->saved_data["inputs"].toInt());
    auto saved = ctx->get_saved_variables();
    variable_list inputs, with_respect_to;
    std::vector<int64_t> position(saved.size(), -1);
    for (size_t i = 0; i < saved.size(); ++i) {
      at::Tensor t = saved[i];
      if (i < count) {
        t = saved[i].detach();
        t.requires_grad_(saved[i].requires_grad());
        inputs.push_back(t);
      }
      if (t.requires_grad()) {
        position[i] = static_cast<int64_t>(with_respect_to.size());
        with_respect_to.push_back(t);
      }
    }
    variable_list outputs;
    {
      at::AutoGradMode recording(true);
      outputs = with_autocast_of(*segment, [&] { return (*segment)(inputs, true); });
    }
    variable_list roots, grads;
    for (size_t i = 0; i < outputs.size() && i < grad_outputs.size(); ++i) {
      if (outputs[i].requires_grad() && grad_outputs[i].defined()) {
        roots.push_back(outputs[i]);
        grads.push_back(grad_outputs[i]);
      }
    }
    variable_list found;
    if (!roots.empty() && !with_respect_to.empty()) {
      found = torch::autograd::grad(roots, with_respect_to, grads, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true);
    }
    // Gradients for the inputs and the parameters go back through the graph as any node's do.
    variable_list result;
    for (size_t i = 0; i < saved.size(); ++i) result.push_back(position[i] >= 0 && !found.empty() ? found[position[i]] : at::Tensor());
    result.push_back(at::Tensor());  // the segment argument
    return result;
  }
};

}  // namespace

extern "C" int ct_checkpoint(ct_segment_fn run, void *context, void (*release)(void *), const ct_tensor *inputs,
                             int64_t count, const ct_tensor *parameters, int64_t parameter_count, ct_tensor *outputs,
                             int64_t capacity, int64_t *output_count) {
  // The segment owns `context` from here on, whatever happens.
  auto segment = c10::make_intrusive<Segment>(run, context, release);
  CT_TRY({
    variable_list args, params;
    for (int64_t i = 0; i < count; ++i) args.push_back(unwrap(inputs[i]));
    for (int64_t i = 0; i < parameter_count; ++i) params.push_back(unwrap(parameters[i]));
    auto result = CheckpointFunction::apply(at::TensorList(args), at::TensorList(params), segment);
    if (static_cast<int64_t>(result.size()) > capacity) throw std::runtime_error("a checkpointed segment returned too many tensors");
    for (size_t i = 0; i < result.size(); ++i) outputs[i] = wrap(result[i]);
    *output_count = static_cast<int64_t>(result.size());
  })
}
