import Config
import Detection
import Foundation
import NN
import Torch

/// Builds the detector a config describes, with weights from a file, ready for inference.
public enum ModelLoading {
  /// The model of `config` with `weights` (.safetensors, or a PyTorch .pth state dict with
  /// torchvision's names) loaded strictly, in eval mode, with the config's test settings; with
  /// `calibrating`, its quantized layers' input ranges observed on that many training images
  /// (`Calibration`). With `runtime.precision: int8` those layers then run INT8 kernels.
  public static func inferenceModel(config: SimpleDetConfig, weights: URL, calibrating: Int? = nil) throws -> any Detector {
    guard FileManager.default.fileExists(atPath: weights.path) else {
      throw EngineError("\(weights.path): no such weight file")
    }
    let model = config.model.detector.makeDetector()
    do {
      try model.loadWeights(contentsOf: weights)
    } catch let error as WeightFileError {
      throw EngineError("\(error)")
    } catch let error as CheckpointError {
      throw EngineError("\(error)")
    } catch {
      throw EngineError("\(weights.path): \(error)")
    }
    model.inference = config.inferenceSettings
    model.eval()
    if let calibrating { try Calibration.calibrate(model, config: config, images: calibrating) }
    if config.runtime.precision == .int8 {
      let unobserved = model.useInt8Kernels()
      guard unobserved.isEmpty else {
        throw EngineError(
          "\(weights.path): \(unobserved.count) quantized layers (\(unobserved[0]) first) have no learned ranges for runtime.precision int8: give the weights of a model.quantize training run, or calibrate (simpledet eval --calibrate N)")
      }
    }
    return model
  }

  /// Evaluates `weights` on the config's test split; with `calibrating`, after observing the
  /// quantized layers' input ranges on that many training images (`Calibration`), and then
  /// `calibrated` hears the model, whose weights hold the ranges.
  public static func evaluate(
    config: SimpleDetConfig, weights: URL, calibrating: Int? = nil, calibrated: ((any Detector) throws -> Void)? = nil,
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> EvaluationReport {
    let model = try inferenceModel(config: config, weights: weights, calibrating: calibrating)
    if calibrating != nil { try calibrated?(model) }
    let dataset = try RunData.dataset(config.data, split: .test)
    let classes = try RunData.classes(of: dataset, modelClasses: config.model.classes, labelsMayBeIds: true)
    let cocoFile = config.data.kind == .coco ? config.data.test.annotations.map { URL(fileURLWithPath: $0) } : nil
    let evaluator = DetectionEvaluator(
      dataset: dataset, classes: classes, batchSize: config.test.batchSize, workers: config.data.workers, cocoAnnotations: cocoFile,
      precision: config.runtime.precision)
    return try evaluator.evaluate(model, progress: progress)
  }
}
