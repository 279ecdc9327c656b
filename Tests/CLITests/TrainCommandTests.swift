import Data
import Foundation
import Testing
import Torch

/// `simpledet train` as a user runs it: the run folder, a SIGKILL and --resume, SIGINT.
@Suite(.serialized) struct TrainCommandTests {
  @Test func killedRunResumesToTheSameWeights() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 24, checkpointPeriod: 3))

    let whole = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "whole"], in: folder.url)
    #expect(whole.status == 0, "\(whole.errors)")
    for name in ["config.yaml", "metrics.jsonl", "model_final.safetensors", "eval.json", "curves.png", "checkpoints/0000024.safetensors", "checkpoints/0000024.state.safetensors"] {
      #expect(folder.exists("whole/\(name)"), "whole/\(name) missing")
    }

    // Kill the second run without warning once its first checkpoint is complete.
    let (process, _, _) = try CommandLineRunner.start(["train", "--config", "tiny.yaml", "--output", "killed"], in: folder.url)
    let marker = "killed/checkpoints/0000003.state.safetensors"
    let deadline = Date().addingTimeInterval(120)
    while !folder.exists(marker) && process.isRunning && Date() < deadline { usleep(5_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
    #expect(!folder.exists("killed/model_final.safetensors"))

    let resumed = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "killed", "--resume"], in: folder.url)
    #expect(resumed.status == 0, "\(resumed.errors)")
    #expect(resumed.output.contains("resuming from iteration"))
    let a = try SafeTensors.read(contentsOf: folder.path("whole/model_final.safetensors"))
    let b = try SafeTensors.read(contentsOf: folder.path("killed/model_final.safetensors"))
    #expect(Set(a.keys) == Set(b.keys))
    let difference = a.keys.map { key in (a[key]!.to(.float64) - b[key]!.to(.float64)).abs().max().doubleValue() }.max() ?? 0
    #expect(difference < 1e-5, "resumed weights differ by \(difference)")
  }

  @Test func interruptWritesACheckpoint() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 200, checkpointPeriod: 100))
    let (process, _, err) = try CommandLineRunner.start(["train", "--config", "tiny.yaml", "--output", "run"], in: folder.url)
    let deadline = Date().addingTimeInterval(120)
    // Wait until training is under way (the first metrics record), then interrupt.
    while process.isRunning && Date() < deadline {
      if let text = try? String(contentsOf: folder.path("run/metrics.jsonl"), encoding: .utf8), text.contains("\"iteration\":2") { break }
      usleep(5_000)
    }
    kill(process.processIdentifier, SIGINT)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + SIGINT)
    #expect(errors.contains("interrupted by SIGINT"))
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path("run/checkpoints").path)) ?? []
    #expect(names.contains { $0.hasSuffix(".state.safetensors") }, "no checkpoint after SIGINT: \(names)")
  }

  @Test func corruptImagesAreSkippedAndNamed() throws {
    let folder = try ScratchFolder()
    let synth = try CommandLineRunner.run(["dataset", "synth", "--out", "ds", "--images", "6", "--seed", "1"], in: folder.url)
    #expect(synth.status == 0, "\(synth.errors)")
    try Data("not a png".utf8).write(to: folder.path("ds/images/000002.png"))
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 6, checkpointPeriod: 0))
    let result = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run", "--set", "data.kind=coco",
       "--set", "data.train={annotations: ds/annotations.json, images: ds}",
       "--set", "data.test={annotations: ds/annotations.json, images: ds}"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(result.errors.contains("warning: skipped an image") && result.errors.contains("000002.png"), "\(result.errors)")
    let metrics = try String(contentsOf: folder.path("run/metrics.jsonl"), encoding: .utf8)
    let skipped = metrics.split(separator: "\n").compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["skipped_images"] as? Int
    }
    #expect((skipped.max() ?? 0) >= 1)
  }

  /// Parts no preset combines, from a config file alone (composable detectors' acceptance case):
  /// FCOS's head on a ResNet-18 with a group-norm FPN, and cascade RoI heads on a C4 backbone
  /// with no neck; each trains, evaluates and predicts through the command line.
  @Test(arguments: ["fcos_on_gn_fpn", "cascade_on_c4"])
  func unpresetCombinationsTrain(_ name: String) throws {
    let folder = try ScratchFolder()
    let model =
      name == "fcos_on_gn_fpn"
      ? """
      model:
        classes: 4
        backbone: {kind: resnet, depth: 18, norm: BN, frozen_stages: 0, base_channels: 16, out_features: [c3, c4, c5]}
        neck: {kind: fpn, channels: 32, norm: GN, extra_levels: p6p7}
        transform: {min_size: [96], max_size: 128}
        rpn: null
        roi_heads: null
        head: {kind: fcos}
      """
      : """
      model:
        classes: 4
        backbone: {kind: resnet, depth: 18, norm: BN, frozen_stages: 0, base_channels: 16, out_features: [c4]}
        neck: {kind: none}
        transform: {min_size: [96], max_size: 128}
        rpn: {anchor_sizes: [[16, 32, 64]], aspect_ratios: [[0.5, 1.0, 2.0]], pre_nms_top_n_train: 100, post_nms_top_n_train: 50, pre_nms_top_n_test: 50, post_nms_top_n_test: 20}
        roi_heads: {kind: cascade, batch_size_per_image: 16, box_head: {kind: resnet_stage}, pooler_resolution: 14, pooler_sampling_ratio: 0, pooler_aligned: true}
      """
    let rest = tinyConfig(maxIterations: 2, checkpointPeriod: 0).components(separatedBy: "\ndata:\n")[1]
    try folder.write("\(name).yaml", model + "\ndata:\n" + rest)
    let train = try CommandLineRunner.run(["train", "--config", "\(name).yaml", "--output", "run"], in: folder.url)
    #expect(train.status == 0, "\(train.errors)")
    #expect(folder.exists("run/model_final.safetensors") && folder.exists("run/eval.json"))
  }

  /// The memory switches and fp16 through `simpledet train` as a user sets them: IABN in the
  /// backbone, checkpointed backbone blocks, neck and RoI heads (a mask head too), float16
  /// autocast with loss scaling; and a TridentNet (C4, scale-aware) trained the same way.
  @Test func memorySwitchesAndTridentNetTrainThroughTheCommandLine() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let switches = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "switches",
       "--set", "model.backbone.norm=IABN", "--set", "model.backbone.checkpoint=blocks", "--set", "model.neck.checkpoint=true",
       "--set", "model.roi_heads.checkpoint=true", "--set", "model.roi_heads.mask_head={convolutions: [16], predictor_channels: 16}",
       "--set", "runtime.precision=fp16"],
      in: folder.url)
    #expect(switches.status == 0, "\(switches.errors)")
    let metrics = try String(contentsOf: folder.path("switches/metrics.jsonl"), encoding: .utf8)
    #expect(metrics.contains("\"fp16_scale\"") && metrics.contains("\"loss_mask\""), "\(metrics)")
    let trident = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "trident",
       "--set", "model.backbone={kind: trident, depth: 18, norm: BN, frozen_stages: 0, out_features: [c4], valid_ranges: [[0, 48], [24, 96], [64, -1]]}",
       "--set", "model.neck={kind: none}", "--set", "model.rpn.anchor_sizes=[[16, 32, 64]]", "--set", "model.rpn.aspect_ratios=[[0.5, 1.0, 2.0]]",
       "--set", "model.roi_heads.box_head={kind: resnet_stage}", "--set", "model.roi_heads.pooler_resolution=14"],
      in: folder.url)
    #expect(trident.status == 0, "\(trident.errors)")
    #expect(folder.exists("trident/model_final.safetensors") && folder.exists("trident/eval.json"))
  }

  /// A student trained with a teacher through `simpledet train`: the distillation losses are
  /// logged, and the saved student predicts with its own config; a missing teacher is one line.
  @Test func distillationTrainsThroughTheCommandLine() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let oneStage = [
      "--set", "model.rpn=null", "--set", "model.roi_heads=null", "--set", "model.head={kind: fcos}",
      "--set", "model.backbone.out_features=[c3, c4, c5]", "--set", "model.neck={kind: fpn, channels: 32, extra_levels: p6p7}",
    ]
    let teacher = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "teacher"] + oneStage, in: folder.url)
    #expect(teacher.status == 0, "\(teacher.errors)")
    try folder.write(
      "student.yaml",
      """
      _base_: teacher/config.yaml
      model:
        backbone: {base_channels: 32}
      distill:
        teacher: {config: teacher/config.yaml, weights: teacher/model_final.safetensors}
        losses:
          features: {region: objects}
          logits: {temperature: 2.0}
      """)
    let student = try CommandLineRunner.run(["train", "--config", "student.yaml", "--output", "student"], in: folder.url)
    #expect(student.status == 0, "\(student.errors)")
    let metrics = try String(contentsOf: folder.path("student/metrics.jsonl"), encoding: .utf8)
    #expect(metrics.contains("\"loss_distill_features\"") && metrics.contains("\"loss_distill_logits\""), "\(metrics)")
    try ImageCodec.encodePNG(ShapesDataset(imageCount: 1, seed: 5).image(at: 0)).write(to: folder.path("scene.png"))
    let predicted = try CommandLineRunner.run(
      ["predict", "--config", "student/config.yaml", "--weights", "student/model_final.safetensors", "--input", "scene.png",
       "--output", "seen"],
      in: folder.url)
    #expect(predicted.status == 0, "\(predicted.errors)")

    let missing = try CommandLineRunner.run(
      ["train", "--config", "student.yaml", "--output", "orphan", "--set", "distill.teacher.weights=gone.safetensors"], in: folder.url)
    #expect(missing.status != 0 && missing.errors.contains("distill.teacher.weights") && missing.errors.contains("gone.safetensors"))
    #expect(missing.errors.split(separator: "\n").count == 1, "\(missing.errors)")
  }

  @Test func existingRunNeedsResume() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let first = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run"], in: folder.url)
    #expect(first.status == 0, "\(first.errors)")
    let second = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run"], in: folder.url)
    #expect(second.status == 1)
    #expect(second.errors.contains("--resume"))
  }
}
