import Foundation

/// Where one worker process stands in a distributed run, as its launcher says in the
/// environment: `simpledet train --nproc-per-node` and torchrun set `RANK`, `WORLD_SIZE`,
/// `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT`; Open MPI's `mpirun` sets
/// `OMPI_COMM_WORLD_RANK`, `_SIZE`, `_LOCAL_RANK` and `_LOCAL_SIZE`, and Slurm's `srun`
/// `SLURM_PROCID`, `SLURM_NTASKS` and `SLURM_LOCALID` (both with `MASTER_ADDR` and `MASTER_PORT`
/// exported by the user, as PyTorch asks too).
public struct WorkerPlacement: Equatable, Sendable, CustomStringConvertible {
  public var rank: Int
  public var worldSize: Int
  /// This worker's place among those on its machine, and how many there are.
  public var localRank: Int
  public var localWorldSize: Int
  public var masterAddress: String
  public var masterPort: Int
  /// A network interface for Gloo to listen on (`GLOO_SOCKET_IFNAME`), instead of the address
  /// that reaches the master.
  public var interface: String?

  public init(
    rank: Int, worldSize: Int, localRank: Int, localWorldSize: Int, masterAddress: String, masterPort: Int,
    interface: String? = nil
  ) {
    self.rank = rank
    self.worldSize = worldSize
    self.localRank = localRank
    self.localWorldSize = localWorldSize
    self.masterAddress = masterAddress
    self.masterPort = masterPort
    self.interface = interface
  }

  public var isMain: Bool { rank == 0 }

  public var description: String { "rank \(rank) of \(worldSize)" }

  /// The placement the environment describes; nil when it describes no distributed run (no
  /// launcher variables, or a world of one process).
  public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> WorkerPlacement?
  {
    let schemes: [(rank: String, size: String, localRank: String, localSize: String)] = [
      ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"),
      ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),
      ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"),
    ]
    guard let scheme = schemes.first(where: { environment[$0.rank] != nil || environment[$0.size] != nil }) else {
      return nil
    }
    func integer(_ name: String, default value: Int? = nil) throws -> Int {
      guard let text = environment[name] else {
        if let value { return value }
        throw EngineError("the environment sets \(scheme.rank) or \(scheme.size) but not \(name); a distributed worker needs both")
      }
      // Slurm writes SLURM_NTASKS_PER_NODE as "2(x3)" on uneven allocations: the count comes first.
      guard let number = Int(text.prefix { $0.isNumber }), !text.isEmpty else {
        throw EngineError("environment variable \(name)=\(text) is not a whole number")
      }
      return number
    }
    let size = try integer(scheme.size)
    let rank = try integer(scheme.rank)
    guard size >= 1 else { throw EngineError("environment variable \(scheme.size)=\(size) must be at least 1") }
    guard (0..<size).contains(rank) else {
      throw EngineError("environment variable \(scheme.rank)=\(rank) is outside 0..<\(size) (\(scheme.size))")
    }
    guard size > 1 else { return nil }
    let localSize = try integer(scheme.localSize, default: 1)
    let localRank = try integer(scheme.localRank, default: 0)
    guard let address = environment["MASTER_ADDR"], !address.isEmpty else {
      throw EngineError("a distributed worker (\(scheme.rank)=\(rank), \(scheme.size)=\(size)) needs MASTER_ADDR, the host of rank 0")
    }
    let portText = environment["MASTER_PORT"] ?? ""
    guard let port = Int(portText), (1...65535).contains(port) else {
      throw EngineError("a distributed worker needs MASTER_PORT, a port number from 1 to 65535 (got \"\(portText)\")")
    }
    let interface = environment["GLOO_SOCKET_IFNAME"].flatMap { $0.isEmpty ? nil : $0 }
    return WorkerPlacement(
      rank: rank, worldSize: size, localRank: localRank, localWorldSize: max(1, localSize), masterAddress: address,
      masterPort: port, interface: interface)
  }

  /// The environment a launcher gives the worker of this placement.
  public var environment: [String: String] {
    var variables = [
      "RANK": "\(rank)", "WORLD_SIZE": "\(worldSize)", "LOCAL_RANK": "\(localRank)",
      "LOCAL_WORLD_SIZE": "\(localWorldSize)", "MASTER_ADDR": masterAddress, "MASTER_PORT": "\(masterPort)",
    ]
    if let interface { variables["GLOO_SOCKET_IFNAME"] = interface }
    return variables
  }
}
