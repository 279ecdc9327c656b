import Config
import Detection
import Foundation
import NN
import Testing
import Torch

@testable import Engine

/// Training a student with a frozen teacher (`distill:`): the teacher never changes, the
/// distillation layers live beside the checkpoints (never in the model), resume is exact, and
/// a teacher that cannot pair with the student is a one-line error before any step.
nonisolated(unsafe) private var teacherFolder = URL(fileURLWithPath: "/nonexistent")

@Suite(.serialized) struct DistillationTrainingTests {
  /// A tiny RetinaNet teacher (32-channel pyramid), trained two steps, shared by the tests and
  /// removed when the test process exits.
  static let teacher: (config: URL, weights: URL) = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-teacher-\(UUID().uuidString)")
    atexit { try? FileManager.default.removeItem(at: teacherFolder) }
    teacherFolder = folder
    var config = try! tinyOneStageConfig(kind: "retinanet", maxIterations: 2)
    config.runtime.evalPeriod = 0
    let trainer = try! TrainingRun.prepare(config: config, runDirectory: folder, resume: false, log: { _ in })
    try! trainer.train()
    return (folder.appendingPathComponent("config.yaml"), folder.appendingPathComponent("model_final.safetensors"))
  }()

  /// A narrower RetinaNet student (16 channels) distilled from the teacher.
  static func studentConfig(maxIterations: Int = 3, logits: Bool = true) throws -> SimpleDetConfig {
    var config = try tinyOneStageConfig(kind: "retinanet", maxIterations: maxIterations)
    config.model.detector.neck = .fpn(FPNConfiguration(channels: 16, extraLevels: .p6p7))
    config.distill = DistillationConfiguration(
      teacher: .init(config: teacher.config.path, weights: teacher.weights.path),
      losses: .init(features: .init(weight: 1, region: .objects), logits: logits ? .init(weight: 1, temperature: 2) : nil))
    return config
  }

  @Test func teacherStaysFrozenAndOnlyTheStudentIsSaved() throws {
    let folder = try ScratchFolder()
    let trainer = try TrainingRun.prepare(config: try Self.studentConfig(), runDirectory: folder.url, resume: false, log: { _ in })
    let teacher = try #require(trainer.distillation?.teacher)
    let before = teacher.stateDict().mapValues { $0.clone() }
    let studentBefore = trainer.model.stateDict().mapValues { $0.clone() }
    var losses: [String: Double] = [:]
    final class Record: TrainerHook {
      var last: [String: Double] = [:]
      func afterStep(_ trainer: Trainer, _ step: StepRecord) throws { last = step.losses }
    }
    let record = Record()
    trainer.hooks.append(record)
    try trainer.train()
    losses = record.last
    #expect(largestDifference(before, teacher.stateDict()) == 0)
    #expect(largestDifference(studentBefore, trainer.model.stateDict()) > 0)
    #expect(losses["loss_distill_features"].map { $0.isFinite && $0 > 0 } == true, "\(losses)")
    #expect(losses["loss_distill_logits"].map { $0.isFinite } == true, "\(losses)")
    // The final model loads into a plain student, strictly: no distillation tensors in it.
    let plain = try Self.studentConfig().model.detector.makeDetector()
    try plain.loadWeights(contentsOf: folder.path("model_final.safetensors"))
    #expect(FileManager.default.fileExists(atPath: folder.path("checkpoints/0000003.distiller.safetensors").path))
  }

  @Test func resumedDistillationEndsWithTheSameWeights() throws {
    var config = try Self.studentConfig(maxIterations: 4)
    config.runtime.checkpointPeriod = 2
    let whole = try ScratchFolder()
    try TrainingRun.prepare(config: config, runDirectory: whole.url, resume: false, log: { _ in }).train()
    let parts = try ScratchFolder()
    let first = try TrainingRun.prepare(config: config, runDirectory: parts.url, resume: false, log: { _ in })
    first.hooks.append(StopAfter(2))
    #expect(throws: TrainingInterrupted.self) { try first.train() }
    try TrainingRun.prepare(config: config, runDirectory: parts.url, resume: true, log: { _ in }).train()
    let a = try SafeTensors.read(contentsOf: whole.path("model_final.safetensors"))
    let b = try SafeTensors.read(contentsOf: parts.path("model_final.safetensors"))
    #expect(largestDifference(a, b) == 0)
  }

  @Test func unpairableTeachersAreOneLineErrors() throws {
    let folder = try ScratchFolder()
    func failure(_ config: SimpleDetConfig) -> String {
      do {
        _ = try Trainer(config: config, runDirectory: folder.url)
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    var missing = try Self.studentConfig()
    missing.distill?.teacher.weights = folder.path("nowhere.safetensors").path
    #expect(failure(missing).contains("distill.teacher.weights") && failure(missing).contains("nowhere.safetensors"))

    var twoStage = try tinyConfig()
    twoStage.distill = try Self.studentConfig().distill
    // Faster R-CNN's pyramid starts at stride 4 (P2), the teacher's at 8 (P3).
    #expect(failure(twoStage).contains("distill.losses.features: the student's maps have strides [4, 8"), "\(failure(twoStage))")
    twoStage.distill?.losses.features = nil
    #expect(failure(twoStage).contains("distill.losses.logits: needs dense heads"), "\(failure(twoStage))")

    var otherMean = try Self.studentConfig()
    otherMean.model.detector.transform.mean = [0.5, 0.5, 0.5]
    #expect(failure(otherMean).contains("normalises images differently"), "\(failure(otherMean))")
    for message in [failure(missing), failure(twoStage), failure(otherMean)] { #expect(!message.contains("\n")) }
  }

  @Test func distillKeysAreChecked() throws {
    #expect(throws: ConfigError.self) { try SimpleDetConfig.load(overrides: ["distill={teacher: {config: a.yaml, weights: b}, losses: {feature: {}}}"]) }
    #expect(throws: ConfigError.self) { try SimpleDetConfig.load(overrides: ["distill={teacher: {config: a.yaml}}"]) }
    #expect(throws: ConfigError.self) {
      try SimpleDetConfig.load(overrides: ["distill={teacher: {config: a.yaml, weights: b}, losses: {logits: {temperature: 0}}}"])
    }
    let loaded = try SimpleDetConfig.load(overrides: [
      "distill={teacher: {config: a.yaml, weights: b.safetensors}, losses: {features: {region: objects, object_margin: 0.25}, logits: {}}}",
    ])
    #expect(loaded.distill?.losses.features == FeatureImitationConfiguration(weight: 1, region: .objects, objectMargin: 0.25))
    #expect(loaded.distill?.losses.logits == LogitDistillationConfiguration())
  }
}
