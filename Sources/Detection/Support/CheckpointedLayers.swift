import NN
import Torch

/// `body(x)` for a part of `module`, recomputed in backward instead of kept (activation
/// checkpointing, see `checkpointed(_:parameters:_:)`) when `enabled` and `module` trains with
/// gradients recorded; evaluation and inference run it as it is.
func checkpointedWhenTraining(_ enabled: Bool, _ module: Module, _ x: Tensor, _ body: @escaping (Tensor) -> Tensor) -> Tensor {
  guard enabled, module.isTraining, isGradEnabled else { return body(x) }
  return checkpointed([x], parameters: module.parameters()) { [body($0[0])] }[0]
}

/// The same for a part that maps several tensors to several (a neck).
func checkpointedWhenTraining(
  _ enabled: Bool, _ module: Module, _ xs: [Tensor], _ body: @escaping ([Tensor]) -> [Tensor]
) -> [Tensor] {
  guard enabled, module.isTraining, isGradEnabled else { return body(xs) }
  return checkpointed(xs, parameters: module.parameters(), body)
}

/// `layers(x)` with each layer a checkpointed segment when `enabled` and training: only the
/// layers' inputs are kept, and backward recomputes one layer at a time. (A part run as one
/// segment at the end of a network saves nothing: backward recomputes it first, while everything
/// else is still held.)
func checkpointedLayers(_ enabled: Bool, _ layers: Sequential, _ x: Tensor) -> Tensor {
  guard enabled, layers.isTraining, isGradEnabled else { return layers(x) }
  return layers.layers.reduce(x) { input, layer in
    // Every layer of a Sequential is a module.
    checkpointedWhenTraining(true, layer as! Module, input, layer.callAsFunction)
  }
}
