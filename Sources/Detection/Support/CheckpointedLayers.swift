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
///
/// `groupedBy` layers form one segment (3 for a flat sequence of convolution, norm, activation).
func checkpointedLayers(_ enabled: Bool, _ layers: Sequential, _ x: Tensor, groupedBy size: Int = 1) -> Tensor {
  guard enabled, layers.isTraining, isGradEnabled else { return layers(x) }
  let groups = stride(from: 0, to: layers.layers.count, by: size).map { Array(layers.layers[$0..<min($0 + size, layers.layers.count)]) }
  return groups.reduce(x) { input, group in
    checkpointedWhenTraining(true, layers, input) { y in group.reduce(y) { $1($0) } }
  }
}
