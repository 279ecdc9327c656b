import ArgumentParser
import Detection
import Engine
import Evaluation
import Foundation
import Masks

/// `simpledet ensemble`: merges the COCO results files of several models into one, per image and
/// category, as ensemble-boxes does (in its normalised coordinates, so results agree with it).
struct Ensemble: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Merge several models' COCO results files into one (NMS, soft-NMS, NMW or weighted box fusion).",
    discussion: """
      Reads each RESULTS file (a COCO results JSON array, as `simpledet eval --output` and \
      `predict` write them) against the ground-truth file (for the image sizes), merges the \
      boxes of each image and category, and writes a results file that `simpledet eval --gt \
      --results` scores. Boxes are normalised by their image's size and clipped to it, as \
      ensemble-boxes expects, and mapped back. Methods: nms, nmw (non-maximum weighted), wbf \
      (weighted box fusion) agree with ensemble-boxes' nms, non_maximum_weighted and \
      weighted_boxes_fusion; soft-nms keeps the decayed scores, as mmcv does (ensemble-boxes' \
      soft_nms returns the original ones). Masks are not carried over.
      """)

  enum Method: String, ExpressibleByArgument, CaseIterable {
    case nms
    case softNMS = "soft-nms"
    case nmw, wbf
  }

  enum Decay: String, ExpressibleByArgument, CaseIterable { case linear, gaussian }

  @Option(name: .customLong("gt"), help: ArgumentHelp("COCO ground-truth JSON file (image ids and sizes).", valueName: "file"))
  var groundTruthPath: String

  @Argument(help: ArgumentHelp("Two or more COCO results files, one per model.", valueName: "results"))
  var results: [String]

  @Option(help: "nms, soft-nms, nmw or wbf.")
  var method: Method = .wbf

  @Option(help: "Boxes overlapping more than this are one object (for soft-nms: where linear decay starts).")
  var iou = 0.55

  @Option(help: ArgumentHelp("Per-model weights, comma-separated (default: all 1).", valueName: "w1,w2,..."))
  var weights: String?

  @Option(help: "nmw and wbf: boxes scoring below this are dropped first.")
  var skipBelow = 0.0

  @Option(help: "soft-nms: linear or gaussian decay.")
  var decay: Decay = .linear

  @Option(help: "soft-nms: σ of the Gaussian decay.")
  var sigma = 0.5

  @Option(help: "soft-nms: boxes decayed below this score are dropped.")
  var minScore = 0.001

  @Option(help: ArgumentHelp("Where to write the merged results file.", valueName: "file"))
  var out: String

  func validate() throws {
    guard results.count >= 2 else { throw ValidationError("give two or more results files to merge") }
    guard (0...1).contains(iou), (0...1).contains(skipBelow), (0...1).contains(minScore), sigma > 0 else {
      throw ValidationError("--iou, --skip-below and --min-score must lie in [0, 1], --sigma be positive")
    }
    if weights != nil { _ = try parsedWeights() }
  }

  private func parsedWeights() throws -> [Double]? {
    guard let weights else { return nil }
    let values = weights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard values.count == results.count, values.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
      throw ValidationError("--weights needs \(results.count) positive numbers, one per results file, got '\(weights)'")
    }
    return values.map { $0! }
  }

  func run() throws {
    do {
      let groundTruth = try COCOGroundTruth(contentsOf: URL(fileURLWithPath: groundTruthPath))
      let models = try results.map { try COCOResultsFile.read(contentsOf: URL(fileURLWithPath: $0), groundTruth: groundTruth) }
      let merged = try merge(models, groundTruth: groundTruth, weights: parsedWeights())
      try OutputFolder.create(URL(fileURLWithPath: out).deletingLastPathComponent().path, role: "the folder of --out")
      try COCOResultsFile.write(merged, to: URL(fileURLWithPath: out))
      printLine("merged \(models.map(\.count).reduce(0, +)) detections from \(models.count) files into \(merged.count): \(out)")
    } catch let error as ValidationError {
      throw error
    } catch {
      throw fail(error)
    }
  }

  private var ensembleMethod: EnsembleMethod {
    switch method {
    case .nms: .nms(iouThreshold: iou)
    case .softNMS: .softNMS(decay == .linear ? .linear(iouThreshold: iou) : .gaussian(sigma: sigma), minScore: minScore)
    case .nmw: .nonMaximumWeighted(iouThreshold: iou)
    case .wbf: .weightedBoxesFusion(iouThreshold: iou)
    }
  }

  private func merge(_ models: [[COCODetection]], groundTruth: COCOGroundTruth, weights: [Double]?) throws -> [COCODetection] {
    let perModel = models.map { Dictionary(grouping: $0, by: \.imageID) }
    var merged: [COCODetection] = []
    for image in groundTruth.images {
      guard let width = image.width, let height = image.height, width > 0, height > 0 else {
        throw EnsembleError("\(groundTruthPath): image \(image.id) has no width and height")
      }
      let (w, h) = (Double(width), Double(height))
      let boxes = perModel.map { detections in
        (detections[image.id] ?? []).compactMap { d -> EnsembleBox? in
          guard let b = d.box else { return nil }
          func clip(_ v: Double) -> Double { Swift.min(Swift.max(v, 0), 1) }
          return EnsembleBox(
            x1: clip(b.x / w), y1: clip(b.y / h), x2: clip((b.x + b.width) / w), y2: clip((b.y + b.height) / h),
            score: d.score, label: d.categoryID)
        }
      }
      for b in ensemble(boxes, weights: weights, method: ensembleMethod, skipBelow: skipBelow) {
        merged.append(
          COCODetection(
            imageID: image.id, categoryID: b.label, score: b.score,
            box: BoundingBox(x1: b.x1 * w, y1: b.y1 * h, x2: b.x2 * w, y2: b.y2 * h)))
      }
    }
    return merged
  }
}

struct EnsembleError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
