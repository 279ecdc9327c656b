import Data
import Foundation
import Testing
import Torch

/// Quantization-aware training (`model.quantize`) and calibration through `simpledet train` and
/// `eval`.
@Suite struct QuantizationTrainingTests {
  /// The delay trains in floating point (the same losses as without quantization) while the
  /// ranges are observed; then the model trains quantized, resumes exactly (ranges included),
  /// and `eval` of its weights gives the AP the run measured.
  @Test func trainsAfterTheDelayResumesAndEvaluates() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 4, checkpointPeriod: 2))
    try ImageCodec.encodePNG(ShapesDataset(imageCount: 1, seed: 3).image(at: 0)).write(to: folder.path("scene.png"))
    let quantize = ["--set", "model.quantize.delay=2"]
    let float = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "float"], in: folder.url)
    #expect(float.status == 0, "\(float.errors)")
    let whole = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "whole"] + quantize, in: folder.url)
    #expect(whole.status == 0, "\(whole.errors)")

    let a = try losses(folder, "float")
    let b = try losses(folder, "whole")
    #expect(a[1] != nil && a[1] == b[1] && a[2] == b[2], "the delay's iterations should be float's: \(a) \(b)")
    #expect(a[3] != b[3], "quantization should change the third iteration: \(a[3] ?? .nan) \(b[3] ?? .nan)")

    let weights = try SafeTensors.read(contentsOf: folder.path("whole/model_final.safetensors"))
    #expect(weights["backbone.body.conv1.fake_quantizer.observed_batches"]?.intValue() == 4)
    #expect(weights["roi_heads.box_head.fc6.fake_quantizer.input_range"] != nil)
    #expect(try SafeTensors.read(contentsOf: folder.path("float/model_final.safetensors")).keys.allSatisfy { !$0.contains("fake_quantizer") })

    // Resume from the checkpoint at iteration 2 in a fresh run folder.
    try FileManager.default.createDirectory(at: folder.path("resumed/checkpoints"), withIntermediateDirectories: true)
    for name in ["0000002.safetensors", "0000002.state.safetensors"] {
      try FileManager.default.copyItem(at: folder.path("whole/checkpoints/\(name)"), to: folder.path("resumed/checkpoints/\(name)"))
    }
    let resumed = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "resumed", "--resume"] + quantize, in: folder.url)
    #expect(resumed.status == 0, "\(resumed.errors)")
    #expect(resumed.output.contains("resuming from iteration 2"), "\(resumed.output)")
    let again = try SafeTensors.read(contentsOf: folder.path("resumed/model_final.safetensors"))
    #expect(Set(again.keys) == Set(weights.keys))
    let difference = weights.keys.map { key in (weights[key]!.to(.float64) - again[key]!.to(.float64)).abs().max().doubleValue() }.max() ?? 0
    #expect(difference < 1e-5, "resumed weights or ranges differ by \(difference)")

    // `eval` builds the quantized model from the run's config and measures what training did.
    let evaluation = try CommandLineRunner.run(
      ["eval", "--config", "whole/config.yaml", "--weights", "whole/model_final.safetensors", "--output", "evaluated"],
      in: folder.url)
    #expect(evaluation.status == 0, "\(evaluation.errors)")
    let metrics = { (path: String) throws -> [String: Double] in
      let report = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path(path))) as? [String: Any]
      return (report?["bbox"] as? [String: Double]) ?? [:]
    }
    let measured = try metrics("whole/eval.json")
    let evaluated = try metrics("evaluated/eval.json")
    #expect(measured.count == 12 && measured == evaluated, "\(measured) vs \(evaluated)")

    // INT8 kernels with the learned ranges; a float model has none to use.
    let int8 = ["--set", "runtime.precision=int8"]
    let integer = try CommandLineRunner.run(
      ["eval", "--config", "whole/config.yaml", "--weights", "whole/model_final.safetensors", "--json"] + int8, in: folder.url)
    #expect(integer.status == 0 && integer.output.contains("\"AP\""), "\(integer.errors)")
    #expect(!integer.errors.contains("deprecated"), "\(integer.errors)")
    let predicted = try CommandLineRunner.run(
      ["predict", "--config", "whole/config.yaml", "--weights", "whole/model_final.safetensors", "--input", "scene.png",
       "--output", "seen", "--score-threshold", "0"] + int8, in: folder.url)
    #expect(predicted.status == 0 && folder.exists("seen/predictions.json"), "\(predicted.errors)")
    // The fake-quantized model evaluates in integer arithmetic: the same detections, bit for bit.
    let simulated = try CommandLineRunner.run(
      ["predict", "--config", "whole/config.yaml", "--weights", "whole/model_final.safetensors", "--input", "scene.png",
       "--output", "simulated", "--score-threshold", "0"], in: folder.url)
    #expect(simulated.status == 0, "\(simulated.errors)")
    let detections = try Data(contentsOf: folder.path("seen/predictions.json"))
    #expect(detections.count > 2, "no detections to compare")
    #expect(try Data(contentsOf: folder.path("simulated/predictions.json")) == detections)
    let report = try JSONSerialization.jsonObject(with: Data(integer.output.utf8)) as? [String: Any]
    #expect((report?["bbox"] as? [String: Double]) == evaluated, "INT8 \(integer.output) vs \(evaluated)")
    let timed = try CommandLineRunner.run(
      ["benchmark", "--config", "tiny.yaml", "--precision", "int8", "--size", "64", "--batch", "1", "--iters", "1",
       "--warmup", "0", "--threads", "1", "--json"], in: folder.url)
    #expect(timed.status == 0 && timed.output.contains("\"precision\":\"int8\""), "\(timed.errors) \(timed.output)")
    let unranged = try CommandLineRunner.run(
      ["eval", "--config", "whole/config.yaml", "--weights", "float/model_final.safetensors"] + int8, in: folder.url)
    #expect(unranged.status != 0 && unranged.errors.contains("have no learned ranges for runtime.precision int8"), "\(unranged.errors)")
    let training = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "int8"] + quantize + int8, in: folder.url)
    #expect(training.status != 0 && training.errors.contains("int8 is for inference"), "\(training.errors)")
  }

  /// Post-training calibration: a float model's weights, the ranges observed on training images
  /// in inference, then evaluated quantized; the calibrated weights evaluate the same.
  @Test func calibrationQuantizesAFloatModel() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 3, checkpointPeriod: 0))
    let float = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "float"], in: folder.url)
    #expect(float.status == 0, "\(float.errors)")
    let quantize = ["--set", "model.quantize.activation=int8"]
    let calibrated = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "float/model_final.safetensors", "--calibrate", "3", "--output", "ptq", "--json"]
        + quantize, in: folder.url)
    #expect(calibrated.status == 0, "\(calibrated.errors)")
    let weights = try SafeTensors.read(contentsOf: folder.path("ptq/model_calibrated.safetensors"))
    // Three images in batches of two (test.batch_size): two observations of the stem.
    #expect(weights["backbone.body.conv1.fake_quantizer.observed_batches"]?.intValue() == 2)
    let again = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "ptq/model_calibrated.safetensors", "--json"] + quantize, in: folder.url)
    #expect(again.status == 0, "\(again.errors)")
    #expect(again.output == calibrated.output && again.output.contains("\"AP\""), "\(again.output) vs \(calibrated.output)")

    let unquantized = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "float/model_final.safetensors", "--calibrate", "3"], in: folder.url)
    #expect(unquantized.status != 0)
    #expect(unquantized.errors.contains("--calibrate needs model.quantize"), "\(unquantized.errors)")
  }

  @Test func badSettingsAreOneLineErrors() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 1, checkpointPeriod: 0))
    for (setting, message) in [
      ("model.quantize.decay=1.5", "model.quantize.decay"), ("model.quantize.layers=[]", "model.quantize.layers"),
      ("model.quantize.grad_mode=round", "'round' is not one of ste, clip"), ("model.quantize.bits=4", "model.quantize.bits"),
      ("runtime.precision=int8", "int8 needs model.quantize"),
    ] {
      let result = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "bad", "--set", setting], in: folder.url)
      #expect(result.status != 0)
      #expect(result.errors.contains(message), "\(setting): \(result.errors)")
      #expect(result.errors.split(separator: "\n").count == 1, "\(setting): \(result.errors)")
    }
  }
}
