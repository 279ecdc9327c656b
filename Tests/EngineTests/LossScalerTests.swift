import Config
import Foundation
import NN
import Testing
import Torch

@testable import Engine

/// float16 training's loss scaling: PyTorch GradScaler's schedule, exact unscaling, the
/// overflow path through the trainer, and the scale in checkpoints and on resume.
@Suite(.serialized) struct LossScalerTests {
  @Test func dynamicScaleHalvesOnOverflowAndDoublesAfterAnIntervalOfFiniteSteps() {
    var scaler = LossScaler(.dynamic)
    #expect(scaler.scale == 65536 && scaler.isDynamic)
    scaler.update(finite: false)
    #expect(scaler.scale == 32768 && scaler.growthTracker == 0)
    for _ in 0..<(LossScaler.growthInterval - 1) { scaler.update(finite: true) }
    #expect(scaler.scale == 32768 && scaler.growthTracker == 1999)
    scaler.update(finite: true)
    #expect(scaler.scale == 65536 && scaler.growthTracker == 0)
    scaler.update(finite: true)
    scaler.update(finite: false)
    #expect(scaler.scale == 32768 && scaler.growthTracker == 0)

    var fixed = LossScaler(.fixed(128))
    fixed.update(finite: false)
    fixed.update(finite: true)
    #expect(fixed.scale == 128 && !fixed.isDynamic)
  }

  /// With a power-of-two scale, scaling the loss and dividing the gradients is exact in float32;
  /// a gradient that overflows once scaled comes back infinite.
  @Test func unscaledGradientsEqualUnscaledBackward() {
    let layer = Linear(8, 3, generator: Generator(seed: 1))
    let x = Tensor.rand([5, 8], generator: Generator(seed: 2))
    func gradients(_ scaler: LossScaler?) -> [Tensor] {
      for p in layer.parameters() { p.grad = nil }
      let loss = (layer(x) * layer(x)).mean()
      if let scaler { scaler.backward(loss, parameters: layer.parameters()) } else { loss.backward() }
      return layer.parameters().map { $0.grad!.clone() }
    }
    let plain = gradients(nil)
    let scaled = gradients(LossScaler(.dynamic))
    for (a, b) in zip(plain, scaled) { #expect(a.isEqual(to: b)) }
    // 1e36 × 2^16 is beyond float32.
    let huge = Tensor([Float(1)], shape: [1]).requiringGrad()
    LossScaler(.dynamic).backward((huge * 1e36).sum(), parameters: [huge])
    #expect(huge.grad!.isFinite().all().boolValue() == false)
  }

  @Test func fp16TrainingLogsTheScaleAndResumesWithIt() throws {
    func config(_ iterations: Int) throws -> SimpleDetConfig {
      var c = try tinyConfig(maxIterations: iterations)
      c.runtime.precision = .fp16
      return c
    }
    let whole = try ScratchFolder()
    let a = try TrainingRun.prepare(config: try config(6), runDirectory: whole.url, resume: false, log: { _ in })
    try a.train()
    let records = try MetricsLog.read(whole.path("metrics.jsonl")).filter { $0["eval"] == nil }
    #expect(records.count == 6 && records.allSatisfy { ($0["fp16_scale"] as? Double ?? 0) >= 1 })
    // A step whose gradients overflow at the initial 2^16 is skipped (its loss logged as null)
    // and halves the scale; every other step trains.
    let skipped = records.compactMap { $0["skipped_steps"] as? Int }.reduce(0, +)
    let losses = records.compactMap { $0["loss"] as? Double }.filter { $0.isFinite }
    #expect(skipped <= 2 && losses.count == 6 - skipped, "\(records)")
    #expect(a.state.lossScale == 65536 / pow(2, Double(skipped)))
    let weights = try readWeightFile(whole.path("model_final.safetensors"))
    let float32 = weights.values.filter { $0.dtype.isFloatingPoint }.allSatisfy { $0.dtype == .float32 }
    #expect(float32)

    // A resumed fp16 run continues with the checkpoint's scale and ends with the same weights.
    let interrupted = try ScratchFolder()
    let b = try TrainingRun.prepare(config: try config(6), runDirectory: interrupted.url, resume: false, log: { _ in })
    b.hooks.append(StopAfter(4))
    #expect(throws: TrainingInterrupted.self) { try b.train() }
    let saved = try CheckpointStore(runDirectory: interrupted.url).restore(
      iteration: 4, model: b.model, optimizer: b.optimizer)
    #expect(saved.lossScale == b.state.lossScale && saved.lossScale != nil)
    var changed = b.state
    changed.lossScale = 1024
    changed.lossScaleGrowthTracker = 7
    try CheckpointStore(runDirectory: interrupted.url).save(model: b.model, optimizer: b.optimizer, state: changed)
    let c = try TrainingRun.prepare(config: try config(6), runDirectory: interrupted.url, resume: true, log: { _ in })
    #expect(c.state.lossScale == 1024 && c.state.lossScaleGrowthTracker == 7)
  }

  @Test func overflowHalvesTheScaleWithoutStoppingTraining() throws {
    let folder = try ScratchFolder()
    var config = try tinyConfig(maxIterations: 4)
    config.runtime.precision = .fp16
    config.solver.maxNonfiniteSteps = 1
    var lines: [String] = []
    let trainer = try TrainingRun.prepare(config: config, runDirectory: folder.url, resume: false, log: { lines.append($0) })
    // Iterations 2 and 3 run with a classifier weight of 1e35: their losses stay finite, but
    // their gradients times 2^16 or 2^15 do not, as with a scale too high for the model.
    trainer.hooks.insert(PoisonWeights(from: 1, until: 3) { $0.sign() * 1e35 }, at: 0)
    let before = trainer.state.lossScale!
    try trainer.train()
    #expect(trainer.state.nonfiniteSkipped == 2 && trainer.state.nonfiniteInARow == 0)
    #expect(trainer.state.lossScale == before / 4)
    #expect(lines.filter { $0.contains("gradient not finite at loss scale") }.count == 2)
    let records = try MetricsLog.read(folder.path("metrics.jsonl"))
    #expect(records.compactMap { $0["skipped_steps"] as? Int }.reduce(0, +) == 2)
    #expect(trainer.model.parameters().allSatisfy { $0.isFinite().all().boolValue() })
  }

  @Test func lossScaleReadsDynamicOrANumber() throws {
    #expect(try SimpleDetConfig.load(overrides: ["runtime.loss_scale=512"]).runtime.lossScale == .fixed(512))
    #expect(try SimpleDetConfig.load(overrides: ["runtime.loss_scale=dynamic"]).runtime.lossScale == .dynamic)
    #expect(throws: (any Error).self) { try SimpleDetConfig.load(overrides: ["runtime.loss_scale=-1"]) }
    #expect(throws: (any Error).self) { try SimpleDetConfig.load(overrides: ["runtime.loss_scale=static"]) }
  }
}
