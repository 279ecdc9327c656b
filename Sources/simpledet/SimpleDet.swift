import ArgumentParser
import Foundation
import Torch

/// The `simpledet` command line. Each sub-command lives in a file of its own.
@main
struct SimpleDet: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simpledet",
    abstract: "Object detection and instance segmentation in Swift, on libtorch.",
    version: "0.1.0 (libtorch \(Torch.expectedVersion))",
    subcommands: [
      Info.self,
      Train.self,
      Predict.self,
      Serve.self,
      Benchmark.self,
      Eval.self,
      Ensemble.self,
      DatasetCommand.self,
      WeightsCommand.self,
      Plot.self,
    ]
  )

  static func main() {
    ThreadWaiting.spinBrieflyUnlessConfigured()
    main(nil)
  }
}

/// Shows the engine SimpleDet runs on.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show the libtorch version, threads and CPU features.")

  func run() throws {
    try Torch.checkVersion()
    print("libtorch \(Torch.version)")
    print("threads \(Torch.threadCount)")
    print("bf16 on CPU \(Torch.cpuHasBFloat16 ? "yes" : "no")")
    print("CUDA devices \(Device.cudaDeviceCount)")
    print("OpenMP waiting \(ThreadWaiting.description)")
    print("freed memory reused \(Torch.reusesFreedMemory ? "yes" : "no (SIMPLEDET_MALLOC=system, or malloc configured through the environment)")")
  }
}
