import Config
import Detection
import Foundation
import Torch

/// A training run in a folder, as `simpledet train` starts it: checks the folder, writes the
/// resolved `config.yaml`, resumes when asked, and attaches the logging, checkpoint and
/// evaluation hooks.
public enum TrainingRun {
  /// A trainer ready to `train()` in `runDirectory`.
  ///
  /// - Parameters:
  ///   - resume: continue from the newest checkpoint in the folder (a fresh start when there is
  ///     none). Without it, a folder that already holds checkpoints is refused, so that no
  ///     finished or interrupted run is overwritten by mistake.
  ///   - showsProgress: draw a live progress line on standard error (for terminals).
  ///   - distributed: this process's part in a distributed run. Only rank 0 writes into the run
  ///     folder and logs; the other workers train and evaluate their shares silently (they read
  ///     the folder's checkpoints when resuming).
  public static func prepare(
    config: SimpleDetConfig, runDirectory: URL, resume: Bool, showsProgress: Bool = false,
    distributed: DistributedTraining? = nil, log: @escaping (String) -> Void = { print($0) }
  ) throws -> Trainer {
    if let distributed, !distributed.isMain {
      let trainer = try Trainer(config: config, runDirectory: runDirectory, distributed: distributed)
      trainer.log = { _ in }
      if resume { try trainer.resume() }
      trainer.hooks = [EvaluationHook(evaluator: try evaluator(config: config, classes: trainer.classes), metrics: nil)]
      return trainer
    }
    try OutputFolder.create(runDirectory.path, role: "the run folder")
    let store = CheckpointStore(runDirectory: runDirectory)
    if !resume, let latest = store.latest {
      throw EngineError(
        "\(runDirectory.path) already holds a run (checkpoint at iteration \(latest)); pass --resume to continue it or choose another --output")
    }
    let configURL = runDirectory.appendingPathComponent("config.yaml")
    if resume, let previous = try? String(contentsOf: configURL, encoding: .utf8), previous != (try config.yaml()) {
      log("warning: the config differs from the one in \(configURL.path); continuing with the new one")
    }
    do {
      try config.write(to: configURL)
    } catch {
      throw EngineError("cannot write \(configURL.path): \(error.localizedDescription)")
    }

    let trainer = try Trainer(config: config, runDirectory: runDirectory, distributed: distributed)
    trainer.log = log
    if let distributed {
      log("distributed training: \(distributed.worldSize) workers, \(config.solver.batchSize / distributed.worldSize) images each per step, \(Torch.threadCount) threads each")
    }
    if resume, try trainer.resume() {
      log("resuming from iteration \(trainer.state.iteration) (\(store.weightsURL(iteration: trainer.state.iteration).path))")
    } else if let weights = config.model.weights {
      let report = try InitialWeights.load(URL(fileURLWithPath: weights), prefix: config.model.weightsPrefix, into: trainer.model)
      log(
        "initial weights from \(weights): \(report.loaded) tensors loaded, \(report.mismatched.count) of another shape and \(report.ignored.count) not in the model left out")
    }
    let metrics = try MetricsLog(
      url: runDirectory.appendingPathComponent("metrics.jsonl"), keepingThrough: resume ? trainer.state.iteration : nil)
    let evaluator = try evaluator(config: config, classes: trainer.classes)
    let testSet = evaluator.dataset
    trainer.hooks = [
      LoggingHook(metrics: metrics, period: config.runtime.logPeriod, showsProgress: showsProgress),
      CheckpointHook(),
      EvaluationHook(evaluator: evaluator, metrics: metrics),
      CurvesHook(),
    ]
    if config.runtime.tensorboard {
      let events = try TensorBoardWriter(directory: runDirectory, resumedAt: resume ? trainer.state.iteration + 1 : nil)
      metrics.events = events
      trainer.hooks.append(TensorBoardPicturesHook(events: events, dataset: testSet))
    }
    return trainer
  }

  /// Evaluation on the config's test split.
  static func evaluator(config: SimpleDetConfig, classes: DetectionClasses) throws -> DetectionEvaluator {
    let testSet = try RunData.dataset(config.data, split: .test)
    let cocoFile = config.data.kind == .coco ? config.data.test.annotations.map { URL(fileURLWithPath: $0) } : nil
    return DetectionEvaluator(
      dataset: testSet, classes: classes, batchSize: config.test.batchSize, workers: config.data.workers,
      cocoAnnotations: cocoFile, precision: config.runtime.precision)
  }
}
