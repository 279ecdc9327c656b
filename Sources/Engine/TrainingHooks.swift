import Config
import Foundation

/// Averages each `runtime.log_period` window into a `metrics.jsonl` record and a log line, and
/// keeps a live progress line with ETA on a terminal.
public final class LoggingHook: TrainerHook {
  let metrics: MetricsLog
  let period: Int
  let showsProgress: Bool
  private var window: [StepRecord] = []
  private var startIteration = 0
  private var started = ContinuousClock.now
  private var lastProgress = ContinuousClock.now

  public init(metrics: MetricsLog, period: Int, showsProgress: Bool) {
    self.metrics = metrics
    self.period = period
    self.showsProgress = showsProgress
  }

  public func beforeTraining(_ trainer: Trainer) throws {
    startIteration = trainer.state.iteration
    started = .now
  }

  public func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    window.append(step)
    let maxIterations = trainer.config.solver.maxIterations
    let eta = etaText(iteration: step.iteration, maxIterations: maxIterations)
    if step.iteration % period == 0 || step.iteration == maxIterations {
      let record = summary(of: window, trainer: trainer)
      try metrics.append(record)
      clearProgress()
      let losses = (record.keys.filter { $0.hasPrefix("loss_") }.sorted()).map { key in
        "\(key.dropFirst(5)) \(format(record[key]))"
      }
      trainer.log(
        "iter \(step.iteration)/\(maxIterations)  loss \(format(record["loss"]))  (\(losses.joined(separator: ", ")))  lr \(String(format: "%.5g", step.learningRate))  \(String(format: "%.2f", record["images_per_sec"] as? Double ?? 0)) img/s  data \(String(format: "%.3f", record["data_time"] as? Double ?? 0)) s  eta \(eta)")
      window.removeAll()
    }
    if showsProgress, seconds(ContinuousClock.now - lastProgress) > 0.25 {
      lastProgress = .now
      let fraction = Double(step.iteration) / Double(maxIterations)
      let width = 24
      let filled = Int(fraction * Double(width))
      let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
      let line = "[\(bar)] \(step.iteration)/\(maxIterations)  loss \(format(step.totalLoss))  eta \(eta)"
      FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }
  }

  public func afterTraining(_ trainer: Trainer) throws {
    clearProgress()
  }

  private func clearProgress() {
    if showsProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
  }

  private func summary(of steps: [StepRecord], trainer: Trainer) -> [String: Any] {
    let good = steps.filter { !$0.skipped }
    var record: [String: Any] = [
      "iteration": steps.last!.iteration,
      "epoch": steps.last!.epoch,
      "lr": steps.last!.learningRate,
      "data_time": mean(steps.map(\.dataTime)),
      "step_time": mean(steps.map(\.stepTime)),
      "images_per_sec": Double(steps.map(\.images).reduce(0, +)) / steps.map { $0.dataTime + $0.stepTime }.reduce(0, +),
      "skipped_steps": steps.count - good.count,
      "skipped_images": trainer.loader.skippedImages,
    ]
    if let scale = steps.last!.lossScale { record["fp16_scale"] = scale }
    let communicated = steps.filter { $0.allReduceBytes != nil }
    if !communicated.isEmpty {
      record["allreduce_bytes"] = Int(mean(communicated.map { Double($0.allReduceBytes!) }).rounded())
      record["comm_hidden"] = mean(communicated.map { $0.communicationHidden ?? 0 })
    }
    record["loss"] = good.isEmpty ? Double.nan : mean(good.map(\.totalLoss))
    for name in steps.last!.losses.keys {
      record[name] = good.isEmpty ? Double.nan : mean(good.map { $0.losses[name] ?? .nan })
    }
    return record
  }

  private func etaText(iteration: Int, maxIterations: Int) -> String {
    let done = iteration - startIteration
    guard done > 0 else { return "?" }
    let perIteration = seconds(ContinuousClock.now - started) / Double(done)
    let left = Int(perIteration * Double(maxIterations - iteration))
    return String(format: "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60)
  }
}

/// Writes a checkpoint every `runtime.checkpoint_period` iterations and at the end, keeps the
/// newest `runtime.checkpoints_kept`, and writes `model_final.safetensors`.
public final class CheckpointHook: TrainerHook {
  public init() {}

  public func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    let period = trainer.config.runtime.checkpointPeriod
    guard period > 0, step.iteration % period == 0, step.iteration < trainer.config.solver.maxIterations else { return }
    // During a run of non-finite steps the weights may be what went bad: keep the last good
    // checkpoint rather than replace it.
    guard trainer.state.nonfiniteInARow == 0 else {
      trainer.log("warning: no checkpoint at iteration \(step.iteration): the last steps were not finite")
      return
    }
    try trainer.saveCheckpoint()
    trainer.checkpoints.prune(keep: trainer.config.runtime.checkpointsKept)
  }

  public func afterTraining(_ trainer: Trainer) throws {
    if trainer.checkpoints.latest != trainer.state.iteration { try trainer.saveCheckpoint() }
    trainer.checkpoints.prune(keep: trainer.config.runtime.checkpointsKept)
    let final = trainer.runDirectory.appendingPathComponent("model_final.safetensors")
    try trainer.model.saveWeights(to: final, metadata: ["iteration": String(trainer.state.iteration)])
    trainer.log("wrote \(final.path)")
  }
}

extension Trainer {
  /// Whether `step` ends an evaluation period (`runtime.eval_period`) before the last
  /// iteration, after which evaluation runs anyway.
  func evaluatesAfter(_ step: StepRecord) -> Bool {
    let period = config.runtime.evalPeriod
    return period > 0 && step.iteration % period == 0 && step.iteration < config.solver.maxIterations
  }
}

/// Evaluates on the test split every `runtime.eval_period` iterations (0: only at the end),
/// logging each result to `metrics.jsonl`, and writes the final one to `eval.json`.
///
/// In a distributed run every worker evaluates its share of the images; rank 0 gathers the
/// detections, scores them once and writes; the others have no `metrics`.
public final class EvaluationHook: TrainerHook {
  let evaluator: DetectionEvaluator
  let metrics: MetricsLog?
  /// The last evaluation, once there is one (on rank 0).
  public private(set) var last: EvaluationReport?

  public init(evaluator: DetectionEvaluator, metrics: MetricsLog?) {
    self.evaluator = evaluator
    self.metrics = metrics
  }

  public func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    if trainer.evaluatesAfter(step) { try evaluate(trainer) }
  }

  public func afterTraining(_ trainer: Trainer) throws {
    guard let report = try evaluate(trainer) else { return }
    let url = trainer.runDirectory.appendingPathComponent("eval.json")
    try report.jsonData().write(to: url, options: .atomic)
    trainer.log("wrote \(url.path)")
  }

  @discardableResult
  func evaluate(_ trainer: Trainer) throws -> EvaluationReport? {
    trainer.log("evaluating on \(evaluator.dataset.count) test images after iteration \(trainer.state.iteration)...")
    let report: EvaluationReport
    if let distributed = trainer.distributed {
      guard let gathered = try evaluator.evaluate(trainer.model, across: distributed, tag: "\(trainer.state.iteration)") else {
        return nil
      }
      report = gathered
    } else {
      report = try evaluator.evaluate(trainer.model)
    }
    last = report
    try metrics?.append(["iteration": trainer.state.iteration, "eval": report.dictionary])
    trainer.log(report.table)
    return report
  }
}

private func mean(_ values: [Double]) -> Double {
  values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
}

private func format(_ value: Any?) -> String {
  guard let d = value as? Double, d.isFinite else { return "nan" }
  return String(format: "%.4f", d)
}
