import Data
import Foundation
import Visualization

extension Predictor {
  /// `detections` drawn on `image`: one colour per class, "name score" labels.
  public func picture(_ image: Image, detections: [Prediction]) -> Image {
    let drawn = detections.map { d in
      DrawnDetection(
        box: (d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]),
        classIndex: classes.categoryIds.firstIndex(of: d.categoryId) ?? d.categoryId,
        label: "\(d.categoryName) \(String(format: "%.2f", d.score))", mask: d.maskBitmap)
    }
    return DetectionPicture.render(image, detections: drawn)
  }

  /// Draws `detections` on `image` (see `picture(_:detections:)`) and writes a PNG.
  public func drawPicture(_ image: Image, detections: [Prediction], to url: URL) throws {
    let picture = picture(image, detections: detections)
    do {
      try ImageCodec.encodePNG(picture).write(to: url, options: .atomic)
    } catch {
      throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}

/// A run's training curves from its `metrics.jsonl`: the loss terms (log scale), the learning
/// rate, throughput, and AP after each evaluation.
public enum TrainingCurves {
  public static func render(metrics: [[String: Any]]) -> Image {
    let steps = metrics.filter { $0["eval"] == nil }
    func series(_ key: String, name: String? = nil, in records: [[String: Any]] = steps) -> Series {
      Series(
        name: name ?? key,
        points: records.compactMap { r in
          guard let x = r["iteration"] as? Int, let y = r[key] as? Double else { return nil }
          return (Double(x), y)
        })
    }
    let lossKeys = Set(steps.flatMap { $0.keys.filter { $0.hasPrefix("loss_") } }).sorted()
    let losses = PlotPanel(
      title: "losses", series: [series("loss", name: "total")] + lossKeys.map { series($0, name: String($0.dropFirst(5))) },
      logScaleY: true)
    let rate = PlotPanel(title: "learning rate", series: [series("lr")])
    let speed = PlotPanel(title: "images per second", series: [series("images_per_sec", name: "images/s")])
    var evalSeries: [Series] = []
    for kind in ["bbox", "segm"] {
      for metric in ["AP", "AP50", "AP75"] {
        let points: [(x: Double, y: Double)] = metrics.compactMap { r in
          guard let x = r["iteration"] as? Int, let eval = r["eval"] as? [String: Any],
            let stats = eval[kind] as? [String: Any], let y = stats[metric] as? Double
          else { return nil }
          return (Double(x), y)
        }
        if !points.isEmpty { evalSeries.append(Series(name: "\(kind) \(metric)", points: points)) }
      }
    }
    let ap = PlotPanel(title: "test AP", series: evalSeries)
    return LinePlot.render(panels: [losses, rate, speed, ap], width: 1000, panelHeight: 260)
  }

  /// Reads `runDirectory/metrics.jsonl` and writes `runDirectory/curves.png`.
  @discardableResult
  public static func write(runDirectory: URL) throws -> URL {
    let metrics = try MetricsLog.read(runDirectory.appendingPathComponent("metrics.jsonl"))
    let url = runDirectory.appendingPathComponent("curves.png")
    do {
      try ImageCodec.encodePNG(render(metrics: metrics)).write(to: url, options: .atomic)
    } catch {
      throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
    }
    return url
  }
}

/// Draws `curves.png` at the end of training.
public final class CurvesHook: TrainerHook {
  public init() {}

  public func afterTraining(_ trainer: Trainer) throws {
    let url = try TrainingCurves.write(runDirectory: trainer.runDirectory)
    trainer.log("wrote \(url.path)")
  }
}
