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
