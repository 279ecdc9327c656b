import Testing

@testable import Engine

/// A distributed worker's place from the environment its launcher gives it.
@Suite struct WorkerPlacementTests {
  @Test func torchrunOpenMPIAndSlurmVariablesAllDescribeAWorker() throws {
    let master = ["MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"]
    let torchrun = try WorkerPlacement.fromEnvironment(
      master.merging(["RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"]) { $1 })
    #expect(
      torchrun
        == WorkerPlacement(
          rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddress: "10.0.0.1", masterPort: 29500))
    let mpi = try WorkerPlacement.fromEnvironment(
      master.merging([
        "OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_RANK": "2",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
      ]) { $1 })
    #expect(mpi?.rank == 2 && mpi?.worldSize == 8 && mpi?.localWorldSize == 4)
    let slurm = try WorkerPlacement.fromEnvironment(
      master.merging(["SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "2", "SLURM_NTASKS_PER_NODE": "3(x2)"]) { $1 })
    #expect(slurm?.rank == 5 && slurm?.localRank == 2 && slurm?.localWorldSize == 3)
    // The environment a launcher writes reads back as the same placement.
    let written = try #require(torchrun)
    #expect(try WorkerPlacement.fromEnvironment(written.environment) == written)
  }

  @Test func noLauncherOrAWorldOfOneIsASingleProcess() throws {
    #expect(try WorkerPlacement.fromEnvironment([:]) == nil)
    #expect(try WorkerPlacement.fromEnvironment(["RANK": "0", "WORLD_SIZE": "1"]) == nil)
  }

  @Test func incompleteOrMalformedVariablesAreNamed() {
    let cases: [([String: String], String)] = [
      (["RANK": "0"], "not WORLD_SIZE"),
      (["RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"], "RANK=2 is outside 0..<2"),
      (["RANK": "x", "WORLD_SIZE": "2"], "RANK=x is not a whole number"),
      (["RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "29500"], "needs MASTER_ADDR"),
      (["RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "99999"], "MASTER_PORT, a port number"),
    ]
    for (environment, message) in cases {
      #expect {
        _ = try WorkerPlacement.fromEnvironment(environment)
      } throws: { error in
        "\(error)".contains(message)
      }
    }
  }
}
