import Detection
import Engine
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// What `GET /v1/model` says about the served model and the server's limits.
public struct ModelDescription: Encodable, Sendable {
  public var config: String
  public var weights: String
  /// Class names by label, background first for the R-CNNs.
  public var classes: [String]
  public var masks: Bool
  public var scoreThreshold: Double
  public var maxDetections: Int
  public var precision: String

  public init(config: String, weights: String, classes: [String], masks: Bool, scoreThreshold: Double, maxDetections: Int, precision: String) {
    self.config = config
    self.weights = weights
    self.classes = classes
    self.masks = masks
    self.scoreThreshold = scoreThreshold
    self.maxDetections = maxDetections
    self.precision = precision
  }
}

/// `simpledet serve`: a detector behind an HTTP API (Hummingbird), with dynamic batching, limits
/// on what clients send, Prometheus metrics, and a graceful stop on SIGTERM or SIGINT that
/// answers every request already received before the process exits.
public struct DetectionServer: Sendable {
  public let settings: ServerSettings
  public let metrics = ServerMetrics()
  private let batcher: DetectionBatcher<[Prediction]>
  private let description: ModelDescription

  /// - Parameters:
  ///   - predictor: the loaded detector; its model then runs on the batcher's thread only.
  ///   - testTransform: the detector's test-time resize, by which batches group images of
  ///     similar padded size.
  public init(predictor: Predictor, testTransform: ImageTransform, description: ModelDescription, settings: ServerSettings) {
    self.settings = settings
    self.description = description
    batcher = DetectionBatcher(
      maxBatchSize: settings.maxBatchSize, maxWait: settings.maxBatchWait, capacity: settings.queueCapacity, metrics: metrics,
      footprint: { image in testTransform.paddedTestSize(height: image.height, width: image.width) }
    ) { images in
      predictor.predict(images, fileNames: Array(repeating: "", count: images.count))
    }
  }

  /// Serves until SIGTERM or SIGINT, then stops accepting connections, answers the requests
  /// already received and returns. `onListening` gets the address actually bound (the port the
  /// system chose when `settings.port` is 0).
  public func run(onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
    var logger = Logger(label: "simpledet.serve")
    logger.logLevel = .warning
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    let responder = DetectionResponder(
      settings: settings, metrics: metrics, batcher: batcher,
      modelDescription: try encoder.encode(ServedModel(model: description, settings: settings)),
      minimumScore: description.scoreThreshold, maxDetections: description.maxDetections)
    let host = settings.host
    let app = Application(
      responder: responder,
      // Idle keep-alive connections are closed, so that clients cannot hold sockets forever.
      server: .http1(configuration: .init(idleTimeout: .seconds(Int64(max(1, settings.requestTimeout.components.seconds))))),
      configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "simpledet"),
      services: [BatcherService(batcher: batcher)],
      onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
      logger: logger)
    try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
  }
}

/// Runs the model's thread for as long as the server runs. The application shuts its services
/// down in reverse order, so the HTTP server stops first, after answering what it received,
/// and only then does the batcher finish.
private struct BatcherService: Service {
  let batcher: DetectionBatcher<[Prediction]>

  func run() async throws {
    batcher.start()
    try? await gracefulShutdown()
    await batcher.finish()
  }
}

/// `GET /v1/model`: the model and the server's limits.
private struct ServedModel: Encodable {
  struct Limits: Encodable {
    var maxBatchSize: Int
    var maxBatchWaitMs: Double
    var queueCapacity: Int
    var maxBodyBytes: Int
    var maxImagePixels: Int
    var requestTimeoutS: Double
  }

  var model: ModelDescription
  var limits: Limits

  init(model: ModelDescription, settings: ServerSettings) {
    self.model = model
    limits = Limits(
      maxBatchSize: settings.maxBatchSize, maxBatchWaitMs: DetectionResponder.seconds(settings.maxBatchWait) * 1000,
      queueCapacity: settings.queueCapacity, maxBodyBytes: settings.maxBodyBytes, maxImagePixels: settings.maxImagePixels,
      requestTimeoutS: DetectionResponder.seconds(settings.requestTimeout))
  }
}
