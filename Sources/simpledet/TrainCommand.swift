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

  func run() throws {
    try Torch.checkVersion()
    let trainer: Trainer
    do {
      let resolved = try SimpleDetConfig.load(file: config, overrides: overrides)
      let folder = URL(fileURLWithPath: output ?? resolved.runtime.outputDirectory)
      trainer = try TrainingRun.prepare(
        config: resolved, runDirectory: folder, resume: resume, showsProgress: isatty(STDERR_FILENO) == 1,
        log: printLine)
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
}
