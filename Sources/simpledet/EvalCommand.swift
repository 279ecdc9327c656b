import ArgumentParser
import Evaluation
import Foundation

/// `simpledet eval`: COCO box or mask AP of a results file against a ground-truth file.
///
/// The sources of detections are exclusive modes checked in `validate()`: today a results file
/// (`--gt`/`--results`); a trained model (`--config`/`--weights`) is to join it.
struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate detections: the twelve COCO box or mask metrics, as pycocotools prints them.",
    discussion: """
      Reads a COCO ground-truth file and a COCO results file (a JSON array of image_id, \
      category_id, bbox [x, y, w, h], score and, for masks, segmentation as RLE) and prints \
      pycocotools' summary table, or with --json one object with keys AP, AP50, AP75, APs, APm, \
      APl, AR1, AR10, AR100, ARs, ARm, ARl (fractions; -1 where a metric is undefined).
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

  @Flag(help: "Print one JSON object with the twelve metrics instead of the table.")
  var json = false

  func validate() throws {
    guard groundTruthPath != nil, resultsPath != nil else {
      throw ValidationError("give both --gt FILE and --results FILE")
    }
  }

  func run() throws {
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
