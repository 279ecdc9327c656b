import ArgumentParser
import Config
import Engine
import Foundation
import Torch

/// `simpledet train`: trains a detector as a config file says, into a run folder.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a detector as a config file says.",
    discussion: """
      Writes into the run folder: config.yaml (the resolved config), metrics.jsonl (one record \
      per log period and per evaluation), checkpoints/NNNNNNN.safetensors with the training state \
      beside each (NNNNNNN.state.safetensors), model_final.safetensors, eval.json and curves.png. \
      SIGINT or SIGTERM finish the current iteration and write a checkpoint first; --resume \
      continues from the newest checkpoint exactly where the run stopped.
      """)

  @Option(help: ArgumentHelp("The config file (YAML).", valueName: "file"))
  var config: String

  @Option(help: ArgumentHelp("The run folder (default: the config's runtime.output_dir).", valueName: "dir"))
  var output: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Overrides a config key, e.g. --set solver.max_iter=500 (repeatable).", valueName: "key.path=value"))
  var overrides: [String] = []

  @Flag(help: "Continue from the newest checkpoint in the run folder.")
  var resume = false

  @OptionGroup(title: "Distributed training (docs/distributed.md)")
  var launch: LaunchOptions

  func run() throws {
    try Torch.checkVersion()
    let placement: WorkerPlacement?
    do {
      placement = try WorkerPlacement.fromEnvironment()
      if let plan = try launch.placements(alreadyAWorker: placement != nil) {
        let launcher = WorkerLauncher(placements: plan, arguments: workerArguments)
        let status = try launcher.run()
        if status != 0 { throw ExitCode(status) }
        return
      }
    } catch let exit as ExitCode {
      throw exit
    } catch {
      throw fail(error)
    }
    let trainer: Trainer
    do {
      let resolved = try SimpleDetConfig.load(file: config, overrides: overrides)
      let folder = URL(fileURLWithPath: output ?? resolved.runtime.outputDirectory)
      let distributed = try placement.map { try DistributedTraining(placement: $0, config: resolved) }
      let showsProgress = isatty(STDERR_FILENO) == 1 || ProcessInfo.processInfo.environment["SIMPLEDET_PROGRESS"] == "1"
      trainer = try TrainingRun.prepare(
        config: resolved, runDirectory: folder, resume: resume, showsProgress: showsProgress,
        distributed: distributed, log: printLine)
    } catch {
      throw fail(error)
    }
    trainer.stopRequest.listen()
    defer { trainer.stopRequest.stopListening() }
    do {
      try trainer.train()
    } catch let interrupted as TrainingInterrupted {
      FileHandle.standardError.write(Data("\(interrupted)\n".utf8))
      throw ExitCode(128 + interrupted.signal)
    } catch {
      throw fail(error)
    }
  }

  /// What each worker runs: this command without the launcher's options.
  var workerArguments: [String] {
    var arguments = ["train", "--config", config]
    if let output { arguments += ["--output", output] }
    for override in overrides { arguments += ["--set", override] }
    if resume { arguments.append("--resume") }
    return arguments
  }
}

/// torchrun's options: how many workers on this machine, and where this machine stands among
/// several.
struct LaunchOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Worker processes to start on this machine (each trains a share of every batch).", valueName: "n"))
  var nprocPerNode = 1

  @Option(help: ArgumentHelp("Machines taking part (run the same command on each).", valueName: "n"))
  var nnodes = 1

  @Option(help: ArgumentHelp("This machine's place among them, from 0 (machine 0 hosts rank 0).", valueName: "r"))
  var nodeRank = 0

  @Option(help: ArgumentHelp("The address of machine 0 (default 127.0.0.1 on one machine).", valueName: "host"))
  var masterAddr: String?

  @Option(help: ArgumentHelp("The rendezvous port on machine 0 (default: a free port on one machine, 29500 on several).", valueName: "port"))
  var masterPort: Int?

  /// The workers this machine should start; nil when this process should train itself (one
  /// worker in all, or started by a launcher).
  func placements(alreadyAWorker: Bool) throws -> [WorkerPlacement]? {
    guard nprocPerNode > 1 || nnodes > 1 else { return nil }
    guard !alreadyAWorker else {
      throw EngineError(
        "this process was started as a distributed worker (RANK/WORLD_SIZE or OMPI_COMM_WORLD_* are set): do not pass --nproc-per-node or --nnodes to it as well")
    }
    guard (1...1024).contains(nprocPerNode) else { throw EngineError("--nproc-per-node must be from 1 to 1024, got \(nprocPerNode)") }
    guard (1...100_000).contains(nnodes) else { throw EngineError("--nnodes must be from 1 to 100000, got \(nnodes)") }
    guard (0..<nnodes).contains(nodeRank) else { throw EngineError("--node-rank must be from 0 to \(nnodes - 1), got \(nodeRank)") }
    if nnodes > 1 && masterAddr == nil {
      throw EngineError("--nnodes \(nnodes) needs --master-addr, the address of machine 0 (where --node-rank 0 runs)")
    }
    let address = masterAddr ?? "127.0.0.1"
    let port: Int
    if let masterPort {
      guard (1...65535).contains(masterPort) else { throw EngineError("--master-port must be from 1 to 65535, got \(masterPort)") }
      port = masterPort
    } else {
      port = nnodes > 1 ? 29500 : try ProcessGroup.freeLoopbackPort()
    }
    return (0..<nprocPerNode).map { local in
      WorkerPlacement(
        rank: nodeRank * nprocPerNode + local, worldSize: nnodes * nprocPerNode, localRank: local,
        localWorldSize: nprocPerNode, masterAddress: address, masterPort: port,
        interface: ProcessInfo.processInfo.environment["GLOO_SOCKET_IFNAME"])
    }
  }
}
