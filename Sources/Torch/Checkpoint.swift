import CTorch

/// Activation checkpointing (Chen et al. 2016): `checkpointed(_:_:)` runs a segment of a network
/// without recording it, keeping only its inputs, and runs it again during backward to get the
/// gradients, trading a second forward of the segment for the memory its activations held.
/// Gradients equal the unchecked ones: the recomputation sees the same inputs, weights and
/// autocast setting. Layers with state that a forward updates (batch norm's running statistics)
/// check `Checkpoint.isRecomputing` so that the second run leaves it alone.
public enum Checkpoint {
  /// True while a checkpointed segment runs for the second time, in backward.
  @TaskLocal public static var isRecomputing = false
}

/// The outputs of `segment` on `inputs`, with only `inputs` kept for backward (see `Checkpoint`).
/// `parameters` are the trainable tensors `segment` reads besides its inputs (a module's
/// `parameters()`): their gradients accumulate when backward runs the segment again, and they
/// make the outputs require grad even when no input does. `segment` must compute the same thing
/// each time it is called on the same inputs (no draws from a random generator that differ
/// between the calls), and may return up to 64 tensors.
public func checkpointed(
  _ inputs: [Tensor], parameters: [Tensor], _ segment: @escaping ([Tensor]) -> [Tensor]
) -> [Tensor] {
  let context = Unmanaged.passRetained(CheckpointSegment(segment)).toOpaque()
  var handles: [OpaquePointer?] = inputs.map(\.handle)
  let trainable = parameters.filter(\.requiresGrad)
  var parameterHandles: [OpaquePointer?] = trainable.map(\.handle)
  var outputs = [OpaquePointer?](repeating: nil, count: CheckpointSegment.capacity)
  var count: Int64 = 0
  let status = withExtendedLifetime((inputs, trainable)) {
    ct_checkpoint(
      runCheckpointSegment, context, releaseCheckpointSegment, &handles, Int64(handles.count), &parameterHandles,
      Int64(parameterHandles.count), &outputs, Int64(outputs.count), &count)
  }
  guard check("checkpointed", status) else { return [Tensor.placeholder()] }
  return (0..<Int(count)).map { Tensor(handle: outputs[$0]!) }
}

/// A Swift segment as the C side holds it (retained until the graph no longer needs it).
private final class CheckpointSegment {
  static let capacity = 64
  let body: ([Tensor]) -> [Tensor]
  init(_ body: @escaping ([Tensor]) -> [Tensor]) { self.body = body }
}

private func runCheckpointSegment(
  _ context: UnsafeMutableRawPointer?, _ inputs: UnsafeMutablePointer<OpaquePointer?>?, _ count: Int64,
  _ recomputing: Int32, _ outputs: UnsafeMutablePointer<OpaquePointer?>?, _ capacity: Int64,
  _ outputCount: UnsafeMutablePointer<Int64>?
) -> Int32 {
  let segment = Unmanaged<CheckpointSegment>.fromOpaque(context!).takeUnretainedValue()
  let tensors = (0..<Int(count)).map { Tensor(handle: inputs![$0]!) }
  let results = recomputing != 0 ? Checkpoint.$isRecomputing.withValue(true) { segment.body(tensors) } : segment.body(tensors)
  precondition(results.count <= Int(capacity), "a checkpointed segment returns at most \(capacity) tensors")
  for (i, result) in results.enumerated() {
    var alias: OpaquePointer?
    _ = ct_alias(result.handle, &alias)
    outputs![i] = alias
  }
  withExtendedLifetime(results) {}
  outputCount!.pointee = Int64(results.count)
  return 0
}

private func releaseCheckpointSegment(_ context: UnsafeMutableRawPointer?) {
  Unmanaged<CheckpointSegment>.fromOpaque(context!).release()
}
