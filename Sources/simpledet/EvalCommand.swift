import ArgumentParser
import Config
import Engine
import Evaluation
import Foundation
import Torch

/// `simpledet eval`: COCO AP of a trained model on its config's test split, or of a results file
/// against a ground-truth file. The two sources of detections are exclusive modes checked in
/// `validate()`.
struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate detections: the twelve COCO box or mask metrics, as pycocotools prints them.",
    discussion: """
      With --config and --weights: runs the model on the config's test split (data.test) and \
      prints the AP table; --output DIR writes DIR/eval.json as {"bbox": {"AP": ..., ...}}. \
      With --gt and --results: reads a COCO ground-truth file and a COCO results file (a JSON \
      array of image_id, category_id, bbox [x, y, w, h], score and, for masks, segmentation as \
      RLE) and prints pycocotools' summary table. --json prints one object with keys AP, AP50, \
      AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (fractions; -1 where a metric is \
      undefined), per IoU type in model mode.
      """
  )

  enum Kind: String, ExpressibleByArgument, CaseIterable {
    case bbox, segm
  }

  @Option(name: .customLong("gt"), help: ArgumentHelp("COCO ground-truth JSON file.", valueName: "file"))
  var groundTruthPath: String?

  @Option(name: .customLong("results"), help: ArgumentHelp("COCO results JSON file.", valueName: "file"))
  var resultsPath: String?

  @Option(name: .customLong("iou-type"), help: "What to compare: bbox (boxes) or segm (masks).")
  var iouType: Kind = .bbox

  @Option(help: ArgumentHelp("A config file (YAML): evaluate its model on its test split.", valueName: "file"))
  var config: String?

  @Option(help: ArgumentHelp("The model's weights (.safetensors, or a PyTorch .pth state dict).", valueName: "file"))
  var weights: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Overrides a config key, e.g. --set test.min_size=640 (repeatable).", valueName: "key.path=value"))
  var overrides: [String] = []

  @Option(help: ArgumentHelp("With --config: a folder to write eval.json into.", valueName: "dir"))
  var output: String?

  @Option(
    help: ArgumentHelp(
      "With --config: post-training quantization. Observe the quantized layers' input ranges (model.quantize) on the first N training images, then evaluate quantized; with --output, the calibrated weights go to model_calibrated.safetensors there.",
      valueName: "N"))
  var calibrate: Int?

  @Flag(help: "Print one JSON object with the twelve metrics instead of the table.")
  var json = false

  func validate() throws {
    let modelMode = config != nil || weights != nil
    let fileMode = groundTruthPath != nil || resultsPath != nil
    if modelMode && fileMode {
      throw ValidationError("give either --config and --weights, or --gt and --results, not both")
    }
    if modelMode {
      guard config != nil, weights != nil else { throw ValidationError("give both --config FILE and --weights FILE") }
    } else {
      guard groundTruthPath != nil, resultsPath != nil else {
        throw ValidationError("give --config FILE --weights FILE, or --gt FILE --results FILE")
      }
      guard overrides.isEmpty, output == nil, calibrate == nil else {
        throw ValidationError("--set, --output and --calibrate go with --config")
      }
    }
  }

  func run() throws {
    if let config, let weights {
      try evaluateModel(config: config, weights: weights)
      return
    }
    guard let groundTruthPath, let resultsPath else { throw ValidationError("give both --gt FILE and --results FILE") }
    do {
      let groundTruth = try COCOGroundTruth(contentsOf: URL(fileURLWithPath: groundTruthPath))
      let detections = try COCOResultsFile.read(contentsOf: URL(fileURLWithPath: resultsPath), groundTruth: groundTruth)
      let evaluator = COCOEvaluator(groundTruth: groundTruth, iouType: iouType == .bbox ? .bbox : .segm)
      let evaluation: COCOEvaluation
      do {
        evaluation = try evaluator.evaluate(detections)
      } catch {
        // Detection problems found while evaluating concern the results file.
        throw error.file == nil ? EvaluationError(file: resultsPath, error.message) : error
      }
      if json {
        print(evaluation.stats.json)
      } else {
        print(evaluation.summaryTable, terminator: "")
      }
    } catch {
      throw fail(error)
    }
  }
}

extension Eval {
  private func evaluateModel(config: String, weights: String) throws {
    try Torch.checkVersion()
    do {
      let resolved = try SimpleDetConfig.load(file: config, overrides: overrides)
      Torch.threadCount = resolved.runtime.threads
      let folder = try output.map { try OutputFolder.create($0) }
      let report = try ModelLoading.evaluate(config: resolved, weights: URL(fileURLWithPath: weights), calibrating: calibrate) {
        model in
        guard let folder else { return }
        let url = folder.appendingPathComponent("model_calibrated.safetensors")
        do {
          try model.saveWeights(to: url)
        } catch {
          throw EngineError("cannot write \(url.path): \(error)")
        }
      }
      if let folder {
        let url = folder.appendingPathComponent("eval.json")
        do {
          try report.jsonData().write(to: url, options: .atomic)
        } catch {
          throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
        }
      }
      print(json ? String(decoding: try report.jsonData(), as: UTF8.self) : report.table)
    } catch {
      throw fail(error)
    }
  }
}
