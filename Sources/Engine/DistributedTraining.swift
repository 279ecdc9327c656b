import Config
import Foundation
import Torch

#if canImport(Glibc)
  import Glibc
#endif

/// One worker's part in data-parallel training: the c10d process group it joined, and the
/// checks that every worker trains the same thing. The trainer shards each global batch by rank,
/// averages gradients through a `GradientReducer`, and agrees with the others on every step's
/// outcome through `agree(losses:finite:stop:)`.
public final class DistributedTraining: @unchecked Sendable {
  public let placement: WorkerPlacement
  public let group: ProcessGroup
  /// The group cross-process batch norm (`norm: SyncBN`, `SyncIABN`) talks in, apart from the
  /// gradients'.
  public let batchNormGroup: ProcessGroup

  public var rank: Int { placement.rank }
  public var worldSize: Int { placement.worldSize }
  public var isMain: Bool { placement.isMain }

  /// Joins the run `placement` describes (waiting up to `config.runtime.distributed.timeout` for
  /// everyone) and checks that every worker resolved the same config.
  public init(placement: WorkerPlacement, config: SimpleDetConfig) throws {
    self.placement = placement
    let timeout = Duration.milliseconds(Int64(config.runtime.distributed.timeout * 1000))
    let local = try Self.localAddress(reaching: placement.masterAddress, port: placement.masterPort)
    let group = try Self.joined(placement, config) {
      try ProcessGroup(
        masterAddress: placement.masterAddress, masterPort: placement.masterPort, rank: placement.rank,
        size: placement.worldSize, localAddress: local, interface: placement.interface, timeout: timeout)
    }
    self.group = group
    batchNormGroup = try Self.joined(placement, config) { try group.subgroup(named: "syncbn") }
    try checkSameConfig(config)
  }

  /// Runs a step of joining the run, turning c10d's failure into one line that says what to check.
  private static func joined<R>(_ placement: WorkerPlacement, _ config: SimpleDetConfig, _ body: () throws -> R) throws -> R {
    do {
      return try body()
    } catch let error as TorchError {
      let role =
        placement.isMain
        ? "cannot serve the rendezvous on port \(placement.masterPort) of \(placement.masterAddress) (is the port in use?)"
        : "cannot join the rendezvous at \(placement.masterAddress):\(placement.masterPort) within \(config.runtime.distributed.timeout) s (is rank 0 running, and the address reachable?)"
      throw EngineError("\(placement): \(role): \(oneLine(error.message))")
    }
  }

  /// Every worker must train the same model on the same data: a different config (a forgotten
  /// `--set` on one machine) would average unrelated gradients, so it stops the run at once.
  private func checkSameConfig(_ config: SimpleDetConfig) throws {
    var comparable = config
    comparable.runtime.threads = 0
    let text = try comparable.yaml()
    let hash = Int64(bitPattern: Self.fnv1a(Array(text.utf8)))
    let hashes = try collective("compare configs") { try group.allGather(Tensor([hash])) }
    let values = hashes.reshaped([-1]).toArray(Int64.self)
    if let other = values.firstIndex(where: { $0 != values[0] }) {
      throw EngineError(
        "rank \(other)'s resolved config differs from rank 0's: every worker must be given the same config file and --set overrides")
    }
  }

  /// Sums `values` over the workers; with the step's flags this is how all agree whether to
  /// update (every loss finite), whether to stop (a signal reached any of them), and what the
  /// step's mean losses were.
  public func sum(_ values: [Double]) throws -> [Double] {
    let tensor = Tensor(values)
    try collective("sum step values") { try group.allReduce(tensor) }
    return tensor.toArray(Double.self)
  }

  /// Overwrites `tensors` on every worker with rank 0's (initial weights and buffers).
  public func broadcastFromMain(_ tensors: [Tensor]) throws {
    try collective("broadcast rank 0's weights") { try group.broadcast(tensors, from: 0) }
  }

  /// Runs a collective, turning c10d's failure (a worker that died or stopped answering) into
  /// one line that names this worker.
  public func collective<R>(_ what: String, _ body: () throws -> R) throws -> R {
    do {
      return try body()
    } catch let error as TorchError {
      throw EngineError("\(placement): \(what) failed: \(Self.oneLine(error.message)) (another worker stopped or the network failed)")
    }
  }

  /// c10d's messages span lines (context, hints); the first non-empty line says what happened.
  static func oneLine(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
    return lines.first { !$0.isEmpty } ?? message
  }

  static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return hash
  }

  /// The address of this machine on the route to `host` (what the other workers can reach it
  /// at): the kernel's choice of source address for a datagram socket connected there, which
  /// sends nothing.
  static func localAddress(reaching host: String, port: Int) throws -> String {
    var hints = addrinfo()
    hints.ai_family = AF_INET
    hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &found)
    guard status == 0, let info = found else {
      throw EngineError("MASTER_ADDR \(host): cannot resolve it (\(String(cString: gai_strerror(status))))")
    }
    defer { freeaddrinfo(found) }
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw EngineError("cannot open a socket: \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    guard connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      throw EngineError("MASTER_ADDR \(host): no route to it (\(String(cString: strerror(errno))))")
    }
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw EngineError("cannot read the local address: \(String(cString: strerror(errno)))") }
    var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
    inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
    return String(cString: text)
  }
}
