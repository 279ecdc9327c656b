import ArgumentParser
import Config
import Engine
import Foundation
import Serving
import Torch

/// `simpledet serve`: the detector behind an HTTP API.
struct Serve: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Serve a detector over HTTP: POST an image to /v1/detect, get JSON detections.",
    discussion: """
      Routes: POST /v1/detect (a JPEG or PNG body, or a multipart form with one; query \
      parameters score_threshold and max_detections) answers {"width", "height", "detections": \
      [{"category_id", "category_name", "bbox": [x, y, w, h], "score", "segmentation"}]}; \
      GET /v1/model describes the model and limits; GET /healthz; GET /metrics (Prometheus). \
      Concurrent requests are batched into one forward pass. SIGTERM or SIGINT stops accepting, \
      answers what was received, and exits 0. See docs/serving.md.
      """)

  @Option(help: ArgumentHelp("The config file (YAML) whose model the weights belong to.", valueName: "file"))
  var config: String

  @Option(help: ArgumentHelp("The model's weights (.safetensors, or a PyTorch .pth state dict).", valueName: "file"))
  var weights: String

  @Option(help: "The address to listen on (loopback unless you mean to expose the server).")
  var host = "127.0.0.1"

  @Option(help: "The port to listen on (0: any free port; the one bound is printed).")
  var port = 8080

  @Option(help: "The most images one forward pass takes.")
  var maxBatchSize = 8

  @Option(help: ArgumentHelp("How long the first image of a batch waits for others, in milliseconds.", valueName: "ms"))
  var maxBatchWait = 5.0

  @Option(help: "Images waiting beyond this many are answered 503 with Retry-After.")
  var queueSize = 64

  @Option(help: ArgumentHelp("The largest request body, in megabytes.", valueName: "MB"))
  var maxBodyMb = 20.0

  @Option(help: "The most pixels an image may have (checked in its header, before decoding).")
  var maxImagePixels = 40_000_000

  @Option(help: ArgumentHelp("A request not answered within this many seconds gets 503.", valueName: "seconds"))
  var timeout = 30.0

  @Option(help: ArgumentHelp("A file holding a bearer token that every route but /healthz then requires.", valueName: "file"))
  var tokenFile: String?

  @Option(help: "The model keeps detections scoring at least this (default: the config's test.score_threshold); requests may ask for more.")
  var scoreThreshold: Double?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Overrides a config key (repeatable).", valueName: "key.path=value"))
  var overrides: [String] = []

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    guard maxBatchSize >= 1 else { throw ValidationError("--max-batch-size must be at least 1") }
    guard maxBatchWait.isFinite, (0...10_000).contains(maxBatchWait) else {
      throw ValidationError("--max-batch-wait must be between 0 and 10000 ms")
    }
    guard queueSize >= 1 else { throw ValidationError("--queue-size must be at least 1") }
    guard maxBodyMb.isFinite, maxBodyMb > 0, maxBodyMb <= 4096 else { throw ValidationError("--max-body-mb must be above 0 and at most 4096") }
    guard maxImagePixels >= 1 else { throw ValidationError("--max-image-pixels must be at least 1") }
    guard timeout.isFinite, timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be above 0 and at most 86400 seconds") }
    if let scoreThreshold, !(0...1).contains(scoreThreshold) {
      throw ValidationError("--score-threshold must be between 0 and 1")
    }
  }

  func run() throws {
    try Torch.checkVersion()
    let server: DetectionServer
    do {
      var resolved = try SimpleDetConfig.load(file: config, overrides: overrides)
      if let scoreThreshold { resolved.test.scoreThreshold = scoreThreshold }
      Torch.threadCount = resolved.runtime.threads
      var settings = ServerSettings()
      settings.host = host
      settings.port = port
      settings.maxBatchSize = maxBatchSize
      settings.maxBatchWait = .microseconds(Int64((maxBatchWait * 1000).rounded()))
      settings.queueCapacity = queueSize
      settings.maxBodyBytes = Int(maxBodyMb * 1_048_576)
      settings.maxImagePixels = maxImagePixels
      settings.requestTimeout = .milliseconds(Int64((timeout * 1000).rounded()))
      settings.token = try tokenFile.map(ServerSettings.token(contentsOf:))
      let predictor = try Predictor(config: resolved, weights: URL(fileURLWithPath: weights))
      let inference = resolved.inferenceSettings
      let description = ModelDescription(
        config: config, weights: weights, classes: predictor.classes.names, masks: resolved.model.detector.hasMasks,
        scoreThreshold: inference.scoreThreshold, maxDetections: inference.detectionsPerImage,
        precision: resolved.runtime.precision.rawValue)
      let testTransform = resolved.model.detector.transform.forTesting(inference)
      server = DetectionServer(predictor: predictor, testTransform: testTransform, description: description, settings: settings)
    } catch {
      throw fail(error)
    }
    let outcome = ServeOutcome()
    let finished = DispatchSemaphore(value: 0)
    // The command line is synchronous; the server runs on Swift's concurrency threads while this
    // thread waits for it to stop.
    Task {
      do {
        try await server.run { host, port in
          printLine("simpledet serve: listening on http://\(host):\(port) (SIGTERM or Ctrl-C stops)")
        }
      } catch {
        outcome.set(error)
      }
      finished.signal()
    }
    finished.wait()
    if let error = outcome.error {
      throw fail(ServingError("cannot serve on \(host):\(port): \(error)"))
    }
    printLine("simpledet serve: stopped after answering every request received")
  }
}

/// The error that ended the server, if any, handed from its task to the waiting thread.
private final class ServeOutcome: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: (any Error)?

  func set(_ error: any Error) { lock.withLock { stored = error } }
  var error: (any Error)? { lock.withLock { stored } }
}
