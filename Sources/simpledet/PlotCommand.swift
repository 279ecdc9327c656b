import ArgumentParser
import Engine
import Foundation

/// `simpledet plot`: a run's training curves as a picture.
struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Draw a run's training curves (losses, learning rate, speed, AP) to RUN_DIR/curves.png.",
    discussion: "Reads RUN_DIR/metrics.jsonl; works while the run is still training.")

  @Argument(help: ArgumentHelp("The run folder (what `simpledet train --output` wrote).", valueName: "run-dir"))
  var runDirectory: String

  func run() throws {
    do {
      let metrics = URL(fileURLWithPath: runDirectory).appendingPathComponent("metrics.jsonl")
      guard FileManager.default.fileExists(atPath: metrics.path) else {
        throw EngineError("\(metrics.path): no such file (is \(runDirectory) a run folder?)")
      }
      let url = try TrainingCurves.write(runDirectory: URL(fileURLWithPath: runDirectory))
      printLine("wrote \(url.path)")
    } catch {
      throw fail(error)
    }
  }
}
