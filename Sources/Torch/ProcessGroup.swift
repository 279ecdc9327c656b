import CTorch
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A group of processes that compute together, on libtorch's c10d: they meet at a TCPStore
/// served by rank 0 and exchange tensors through Gloo's collectives. Every process of the group
/// must make the same calls in the same order; each call blocks until all have made it, or
/// throws after the group's timeout (a process that died or stopped answering).
public final class ProcessGroup: @unchecked Sendable {
  let handle: OpaquePointer
  /// This process's place in the group, from 0.
  public let rank: Int
  /// How many processes the group holds.
  public let size: Int

  public enum Reduction: Int32, Sendable {
    case sum = 0
    case max = 1
    case min = 2
  }

  /// Joins the group: rank 0 serves the store on `masterPort` of `masterAddress`, the others
  /// connect to it, and all wait for one another for at most `timeout`.
  ///
  /// - Parameters:
  ///   - localAddress: the address of this machine that the others reach it at (Gloo listens
  ///     there).
  ///   - interface: a network interface to listen on instead (as `GLOO_SOCKET_IFNAME`).
  public init(
    masterAddress: String, masterPort: Int, rank: Int, size: Int, localAddress: String, interface: String? = nil,
    timeout: Duration
  ) throws {
    var handle: OpaquePointer?
    let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
    try checkThrowing(
      "ProcessGroup",
      ct_process_group_create(
        masterAddress, Int32(masterPort), Int32(rank), Int32(size), localAddress, interface, milliseconds, &handle))
    self.handle = handle!
    self.rank = rank
    self.size = size
  }

  private init(handle: OpaquePointer, rank: Int, size: Int) {
    self.handle = handle
    self.rank = rank
    self.size = size
  }

  deinit { ct_process_group_free(handle) }

  /// A second group of the same processes, whose collectives never mix with this one's (cross-
  /// process batch norm talks in its own group while gradient buckets travel in this one).
  /// Every process must call it with the same name.
  public func subgroup(named name: String) throws -> ProcessGroup {
    var sub: OpaquePointer?
    try checkThrowing("ProcessGroup.subgroup", ct_process_group_new_group(handle, name, &sub))
    return ProcessGroup(handle: sub!, rank: rank, size: size)
  }

  /// Reduces `tensor` over the group, in place: every process ends with the same result.
  public func allReduce(_ tensor: Tensor, _ reduction: Reduction = .sum) throws {
    try withExtendedLifetime(tensor) {
      try checkThrowing("allReduce", ct_process_group_allreduce(handle, tensor.handle, reduction.rawValue))
    }
  }

  /// Overwrites `tensors` everywhere with those of process `root`.
  public func broadcast(_ tensors: [Tensor], from root: Int = 0) throws {
    guard !tensors.isEmpty else { return }
    var handles: [OpaquePointer?] = tensors.map(\.handle)
    try withExtendedLifetime(tensors) {
      try checkThrowing("broadcast", ct_process_group_broadcast(handle, &handles, Int64(handles.count), Int32(root)))
    }
  }

  /// Returns when every process has called it.
  public func barrier() throws {
    try checkThrowing("barrier", ct_process_group_barrier(handle))
  }

  /// Every process's `tensor` (all of one shape), stacked along a new first axis in rank order.
  public func allGather(_ tensor: Tensor) throws -> Tensor {
    var out: OpaquePointer?
    try withExtendedLifetime(tensor) {
      try checkThrowing("allGather", ct_process_group_allgather(handle, tensor.handle, &out))
    }
    return Tensor(handle: out!)
  }

  /// Stores `bytes` under `key` in the group's store, for any process to `value(forKey:)`.
  public func setValue(_ bytes: [UInt8], forKey key: String) throws {
    try checkThrowing("store set \(key)", ct_store_set(handle, key, bytes, Int64(bytes.count)))
  }

  /// The bytes stored under `key`, waiting for them up to the group's timeout.
  public func value(forKey key: String) throws -> [UInt8] {
    var bytes: UnsafeMutablePointer<UInt8>?
    var length: Int64 = 0
    try checkThrowing("store get \(key)", ct_store_get(handle, key, &bytes, &length))
    defer { ct_bytes_free(bytes) }
    return Array(UnsafeBufferPointer(start: bytes, count: Int(length)))
  }

  /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice), for a
  /// rendezvous on this machine.
  public static func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
      throw TorchError(operation: "freeLoopbackPort", message: "cannot open a socket: \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
      }
    }
    guard bound else {
      throw TorchError(operation: "freeLoopbackPort", message: "cannot bind a port on 127.0.0.1: \(String(cString: strerror(errno)))")
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// Removes `key` from the group's store.
  public func deleteValue(forKey key: String) throws {
    try checkThrowing("store delete \(key)", ct_store_delete(handle, key))
  }

}

/// Averages gradients across a process group as PyTorch's DistributedDataParallel does, with
/// libtorch's own c10d `Reducer`: parameters are packed into buckets (a small first one, then
/// `bucketBytes` each, in reverse order of the forward pass), and each bucket's all-reduce starts
/// from an autograd hook as soon as its last gradient is ready, while backward goes on. When
/// `backward()` returns, every parameter's `grad` holds the average over the group.
///
/// Call `prepareForForward()` before each training forward and `prepareForBackward(_:)` before
/// its backward; every process must run backward after preparing for it.
public final class GradientReducer: @unchecked Sendable {
  let handle: OpaquePointer
  let group: ProcessGroup
  let parameters: [Tensor]

  /// - Parameters:
  ///   - findUnusedParameters: look for parameters the forward did not reach, so that their
  ///     buckets do not wait for gradients that never come.
  ///   - wireType: what buckets travel as: `.float16` or `.bfloat16` halve the bytes moved;
  ///     nil sends them as they are.
  public init(
    group: ProcessGroup, parameters: [Tensor], bucketBytes: Int = 25 << 20, firstBucketBytes: Int = 1 << 20,
    findUnusedParameters: Bool = true, wireType: DType? = nil
  ) throws {
    self.group = group
    self.parameters = parameters
    var handles: [OpaquePointer?] = parameters.map(\.handle)
    var handle: OpaquePointer?
    try withExtendedLifetime(parameters) {
      try checkThrowing(
        "GradientReducer",
        ct_reducer_create(
          group.handle, &handles, Int64(handles.count), Int64(bucketBytes), Int64(firstBucketBytes),
          findUnusedParameters ? 1 : 0, wireType?.rawValue ?? -1, &handle))
    }
    self.handle = handle!
  }

  deinit { ct_reducer_free(handle) }

  public func prepareForForward() throws {
    try checkThrowing("GradientReducer.prepareForForward", ct_reducer_prepare_for_forward(handle))
  }

  /// Readies the buckets for a backward pass from `outputs` (the loss).
  public func prepareForBackward(_ outputs: [Tensor]) throws {
    var handles: [OpaquePointer?] = outputs.map(\.handle)
    try withExtendedLifetime(outputs) {
      try checkThrowing(
        "GradientReducer.prepareForBackward", ct_reducer_prepare_for_backward(handle, &handles, Int64(handles.count)))
    }
  }

  /// What the last backward's buckets moved: bytes sent into the all-reduce by this process,
  /// and the share of the communication time that overlapped backward's computation (0...1).
  public var lastBackward: (bytes: Int, hiddenShare: Double) {
    var bytes: Int64 = 0
    var hidden = 0.0
    ct_reducer_last_backward(handle, &bytes, &hidden)
    return (Int(bytes), hidden)
  }
}

extension Functional {
  /// Batch normalisation in training over the batch that all processes of `group` hold together
  /// (PyTorch's `SyncBatchNorm`): each passes its own part (any number of images, none
  /// included) and all must call it at the same point. Forward all-reduces the per-channel sums,
  /// sums of squares and counts, normalises with the group's mean and (biased) variance, and
  /// updates `runningMean`/`runningVariance` (when given) with the group's unbiased variance.
  /// Backward all-reduces the gradient sums, so the input gradient is exact for the whole batch.
  ///
  /// Gradients follow PyTorch's convention with `DistributedDataParallel`: the input gradient on
  /// each process is that of the sum of all processes' losses, the weight and bias gradients are
  /// this process's own sums; once `GradientReducer` has averaged every parameter's gradient over
  /// the processes, it equals single-process batch norm's on the concatenated batch for the loss
  /// (1/W) Σ (each process's loss) that data-parallel training descends.
  ///
  /// With no group, or a group of one process, it is ordinary batch norm in training.
  public static func syncBatchNorm(
    _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVariance: Tensor?,
    momentum: Double = 0.1, epsilon: Double = 1e-5, group: ProcessGroup?
  ) -> Tensor {
    withExtendedLifetime((weight, bias, runningMean, runningVariance, group)) {
      Tensor.make("syncBatchNorm") {
        ct_sync_batch_norm(
          x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVariance?.handle, momentum, epsilon,
          group?.handle, $0)
      }
    }
  }
}
