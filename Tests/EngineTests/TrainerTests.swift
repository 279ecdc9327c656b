import Config
import Data
import Detection
import Foundation
import NN
import Testing
import Torch

@testable import Engine

@Suite(.serialized) struct TrainerTests {
  @Test func trainingWritesTheRunFolder() throws {
    let folder = try ScratchFolder()
    let trainer = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: folder.url, resume: false, log: { _ in })
    try trainer.train()
    let manager = FileManager.default
    for name in ["config.yaml", "metrics.jsonl", "model_final.safetensors", "eval.json",
                 "checkpoints/0000003.safetensors", "checkpoints/0000003.state.safetensors",
                 "checkpoints/0000006.safetensors", "checkpoints/0000006.state.safetensors"] {
      let exists = manager.fileExists(atPath: folder.path(name).path)
      #expect(exists, "\(name) missing")
    }
    let records = try MetricsLog.read(folder.path("metrics.jsonl"))
    let iterations = records.compactMap { $0["eval"] == nil ? $0["iteration"] as? Int : nil }
    #expect(iterations == [1, 2, 3, 4, 5, 6])
    let first = records[0]
    for key in ["loss", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg", "lr", "data_time", "step_time", "images_per_sec"] {
      let present = first[key] is Double
      #expect(present, "metrics record lacks \(key)")
    }
    let eval = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("eval.json"))) as? [String: [String: Double]]
    let keys = Set(eval?["bbox"]?.keys.map { $0 } ?? [])
    #expect(keys == Set(["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]))
    // The resolved config reloads to the same config.
    let reloaded = try SimpleDetConfig.load(file: folder.path("config.yaml").path)
    #expect(reloaded == (try tinyConfig()))
  }

  @Test func resumedRunEndsWithTheSameWeights() throws {
    let uninterrupted = try ScratchFolder()
    let a = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: uninterrupted.url, resume: false, log: { _ in })
    try a.train()

    let interrupted = try ScratchFolder()
    let b = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: interrupted.url, resume: false, log: { _ in })
    b.hooks.append(StopAfter(4))
    #expect(throws: TrainingInterrupted.self) { try b.train() }
    #expect(b.checkpoints.iterations() == [3, 4])

    let c = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: interrupted.url, resume: true, log: { _ in })
    #expect(c.state.iteration == 4)
    try c.train()
    let difference = largestDifference(a.model.stateDict(), c.model.stateDict())
    #expect(difference < 1e-5, "resumed weights differ by \(difference)")
    // The metrics of the resumed run continue where the interrupted one stopped, without repeats.
    let records = try MetricsLog.read(interrupted.path("metrics.jsonl"))
    let iterations = records.compactMap { $0["eval"] == nil ? $0["iteration"] as? Int : nil }
    #expect(iterations == [1, 2, 3, 4, 5, 6])
  }

  @Test func resumeFromAnOlderCheckpointAfterAKill() throws {
    // A kill leaves the newest complete checkpoint and whatever was logged after it.
    let folder = try ScratchFolder()
    let a = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: folder.url, resume: false, log: { _ in })
    try a.train()
    let finalWeights = a.model.stateDict()
    let store = CheckpointStore(runDirectory: folder.url)
    try FileManager.default.removeItem(at: store.stateURL(iteration: 6))
    try FileManager.default.removeItem(at: folder.path("model_final.safetensors"))
    #expect(store.latest == 3)
    let b = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: folder.url, resume: true, log: { _ in })
    #expect(b.state.iteration == 3)
    try b.train()
    let difference = largestDifference(finalWeights, b.model.stateDict())
    #expect(difference < 1e-5, "resumed weights differ by \(difference)")
  }

  @Test func bfloat16TrainingKeepsFloat32Weights() throws {
    let folder = try ScratchFolder()
    var config = try tinyConfig(maxIterations: 3)
    config.runtime.precision = .bf16
    let trainer = try TrainingRun.prepare(config: config, runDirectory: folder.url, resume: false, log: { _ in })
    try trainer.train()
    let weights = try readWeightFile(folder.path("model_final.safetensors"))
    let float32 = weights.values.filter { $0.dtype.isFloatingPoint }.allSatisfy { $0.dtype == .float32 }
    #expect(float32)
    let records = try MetricsLog.read(folder.path("metrics.jsonl"))
    let losses = records.compactMap { $0["loss"] as? Double }
    #expect(losses.count == 3 && losses.allSatisfy(\.isFinite))
    #expect(FileManager.default.fileExists(atPath: folder.path("eval.json").path))
  }

  @Test(arguments: ["retinanet", "fcos"])
  func oneStageDetectorsTrainAndEvaluate(kind: String) throws {
    let folder = try ScratchFolder()
    let trainer = try TrainingRun.prepare(
      config: try tinyOneStageConfig(kind: kind), runDirectory: folder.url, resume: false, log: { _ in })
    #expect(!(trainer.model is GeneralizedRCNN))
    try trainer.train()
    let records = try MetricsLog.read(folder.path("metrics.jsonl"))
    let first = records[0]
    let terms = first.keys.filter { $0.hasPrefix("loss_") }.sorted()
    let expected = kind == "retinanet"
      ? ["loss_bbox_regression", "loss_classification"] : ["loss_bbox_ctrness", "loss_bbox_regression", "loss_classification"]
    #expect(terms == expected)
    #expect(FileManager.default.fileExists(atPath: folder.path("eval.json").path))
    // The run folder's config rebuilds the same kind, and its weights load strictly.
    let reloaded = try SimpleDetConfig.load(file: folder.path("config.yaml").path)
    let model = try ModelLoading.inferenceModel(config: reloaded, weights: folder.path("model_final.safetensors"))
    #expect(type(of: model) == type(of: trainer.model))
  }

  @Test func epochsBecomeIterations() throws {
    let folder = try ScratchFolder()
    var config = try tinyConfig()
    config.solver.maxEpochs = 2
    config.solver.steps = [1]
    config.runtime.checkpointPeriod = 0
    let trainer = try TrainingRun.prepare(config: config, runDirectory: folder.url, resume: false, log: { _ in })
    // 8 training images in batches of 2: 4 iterations per epoch.
    #expect(trainer.config.solver.maxIterations == 8)
    #expect(trainer.config.solver.steps == [4])
    try trainer.train()
    #expect(trainer.state.iteration == 8)
    #expect(trainer.state.epoch == 1 && trainer.state.batchInEpoch == 4)
  }

  @Test func existingRunNeedsResume() throws {
    let folder = try ScratchFolder()
    let a = try TrainingRun.prepare(config: try tinyConfig(maxIterations: 3), runDirectory: folder.url, resume: false, log: { _ in })
    try a.train()
    do {
      _ = try TrainingRun.prepare(config: try tinyConfig(maxIterations: 3), runDirectory: folder.url, resume: false, log: { _ in })
      Issue.record("a folder with checkpoints was overwritten")
    } catch let error as EngineError {
      #expect(error.message.contains("--resume"))
    }
  }

  @Test func oneNonfiniteStepIsSkipped() throws {
    let folder = try ScratchFolder()
    var lines: [String] = []
    let trainer = try TrainingRun.prepare(config: try tinyConfig(), runDirectory: folder.url, resume: false, log: { lines.append($0) })
    trainer.hooks.insert(PoisonWeights(from: 2, until: 3), at: 0)
    try trainer.train()
    #expect(trainer.state.nonfiniteSkipped == 1)
    #expect(lines.contains { $0.contains("warning: iteration 3") && $0.contains("not finite") })
    let finite = trainer.model.parameters().allSatisfy { $0.isFinite().all().boolValue() }
    #expect(finite)
    let records = try MetricsLog.read(folder.path("metrics.jsonl"))
    let skipped = records.compactMap { $0["skipped_steps"] as? Int }.reduce(0, +)
    #expect(skipped == 1)
  }

  @Test func repeatedNonfiniteStepsStopTraining() throws {
    let folder = try ScratchFolder()
    var config = try tinyConfig(maxIterations: 20)
    config.solver.maxNonfiniteSteps = 3
    let trainer = try TrainingRun.prepare(config: config, runDirectory: folder.url, resume: false, log: { _ in })
    // After the checkpoint at iteration 3 is written.
    trainer.hooks.append(PoisonWeights(from: 4, until: nil))
    do {
      try trainer.train()
      Issue.record("training went on with NaN weights")
    } catch let error as EngineError {
      #expect(error.message.contains("iteration 7"))
      #expect(error.message.contains("0000003.safetensors"))
    }
    // The last good checkpoint is intact and finite.
    let weights = try readWeightFile(trainer.checkpoints.weightsURL(iteration: 3))
    let finite = weights.values.allSatisfy { $0.isFinite().all().boolValue() }
    #expect(finite)
    #expect(trainer.checkpoints.latest == 3)
  }

  /// `data.batch_grouping: size` puts only images of one padded size in a batch; the default
  /// groups by orientation alone, so its batches mix sizes.
  @Test func batchesGroupBySize() throws {
    var config = try tinyConfig()
    config.data.train.imageCount = 40
    let padded = { (record: DatasetRecord) in
      let size = config.model.detector.transform.paddedTestSize(height: record.height, width: record.width)
      return "\(size.height)x\(size.width)"
    }
    let sizes = { (trainer: Trainer) in
      trainer.loader.plan(epoch: 0).map { batch in Set(batch.map { padded(trainer.loader.dataset.records[$0]) }) }
    }
    let folders = (try ScratchFolder(), try ScratchFolder())
    let byOrientation = try TrainingRun.prepare(config: config, runDirectory: folders.0.url, resume: false, log: { _ in })
    #expect(sizes(byOrientation).contains { $0.count > 1 }, "the shapes images should come in several sizes")
    config.data.batchGrouping = .size
    let bySize = try TrainingRun.prepare(config: config, runDirectory: folders.1.url, resume: false, log: { _ in })
    let grouped = sizes(bySize)
    #expect(!grouped.isEmpty && grouped.allSatisfy { $0.count == 1 }, "\(grouped)")
  }
}
