import Data
import Engine
import Foundation
import Hummingbird

/// The detection API's routes: `POST /v1/detect`, `GET /v1/model`, `GET /healthz` and
/// `GET /metrics`. Every refusal is a JSON `{"error": "..."}` with a 4xx or 503 status, every
/// answer is counted in `/metrics`, and nothing a client sends reaches a trap.
struct DetectionResponder: HTTPResponder {
  typealias Context = BasicRequestContext

  let settings: ServerSettings
  let metrics: ServerMetrics
  let batcher: DetectionBatcher<[Prediction]>
  /// The JSON `GET /v1/model` answers.
  let modelDescription: Data
  /// The threshold the model itself applies: a request may only ask for more.
  let minimumScore: Double
  /// The most detections the model reports per image.
  let maxDetections: Int

  func respond(to request: Request, context: Context) async throws -> Response {
    let start = ContinuousClock.now
    let path = request.uri.path
    metrics.requestStarted()
    var response: Response
    do {
      try authorize(request, path: path)
      response = try await route(request, path: path)
    } catch let error as RequestError {
      metrics.recordRefusal(error.reason)
      response = Self.json(["error": error.message], status: error.status, headers: error.headers)
    } catch let error as HTTPError where error.status == .contentTooLarge {
      metrics.recordRefusal("too_large")
      response = Self.json(["error": "body larger than \(settings.maxBodyBytes) bytes"], status: .contentTooLarge)
    } catch {
      context.logger.error("\(request.method) \(path): \(error)")
      metrics.recordRefusal("internal")
      response = Self.json(["error": "internal error"], status: .internalServerError)
    }
    let elapsed = ContinuousClock.now - start
    metrics.recordRequest(path: path, code: response.status.code, seconds: Self.seconds(elapsed))
    return response
  }

  private func route(_ request: Request, path: String) async throws -> Response {
    switch path {
    case "/v1/detect":
      try allow(.post, request)
      return try await detect(request)
    case "/v1/model":
      try allow(.get, request)
      return Self.json(data: modelDescription)
    case "/healthz":
      try allow(.get, request)
      return Self.json(["status": "ok"])
    case "/metrics":
      try allow(.get, request)
      var headers = HTTPFields()
      headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
      return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    default:
      throw RequestError(.notFound, "no route \(Self.printable(path)) (routes: POST /v1/detect, GET /v1/model, GET /healthz, GET /metrics)")
    }
  }

  private func allow(_ method: HTTPRequest.Method, _ request: Request) throws(RequestError) {
    guard request.method == method else {
      var headers = HTTPFields()
      headers[.allow] = method.rawValue
      throw RequestError(.methodNotAllowed, "\(request.uri.path) takes \(method.rawValue) only", headers: headers)
    }
  }

  private func authorize(_ request: Request, path: String) throws(RequestError) {
    guard let token = settings.token, path != "/healthz" else { return }
    let given = request.headers[.authorization] ?? ""
    guard Self.constantTimeEqual(given, "Bearer " + token) else {
      var headers = HTTPFields()
      headers[.wwwAuthenticate] = "Bearer"
      throw RequestError(.unauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)", headers: headers)
    }
  }

  private func detect(_ request: Request) async throws -> Response {
    // A batch forming now waits for this image while its body is read and decoded.
    batcher.announceArrival()
    var submitted = false
    defer { if !submitted { batcher.withdrawArrival() } }
    let deadline = ContinuousClock.now + settings.requestTimeout
    let query = request.uri.queryParameters
    let options = try DetectOptions(query: { query[Substring($0)] }, minimumScore: minimumScore, maxDetections: maxDetections)
    if let length = request.headers[.contentLength].flatMap(Int.init), length > settings.maxBodyBytes {
      throw RequestError(.contentTooLarge, "body of \(length) bytes is larger than the limit of \(settings.maxBodyBytes)")
    }
    let body = try await withDeadline(deadline) { [maxBodyBytes = settings.maxBodyBytes] in
      var request = request
      return try await request.collectBody(upTo: maxBodyBytes)
    }
    let bytes = try ImageUpload.imageBytes(body: Data(buffer: body), contentType: request.headers[.contentType])
    let image = try decode(bytes)
    let detections: [Prediction]
    do {
      submitted = true
      detections = try await batcher.detect(image, timeout: ContinuousClock.now.duration(to: deadline), announced: true)
    } catch let refusal as BatcherRefusal {
      var headers = HTTPFields()
      headers[.retryAfter] = "1"
      switch refusal {
      case .queueFull:
        throw RequestError(.serviceUnavailable, "the queue is full (\(settings.queueCapacity) images waiting); retry later", reason: "queue_full", headers: headers)
      case .timedOut:
        throw RequestError(.serviceUnavailable, "no answer within the request timeout", reason: "timeout", headers: headers)
      case .shuttingDown:
        throw RequestError(.serviceUnavailable, "the server is shutting down", reason: "shutting_down", headers: headers)
      }
    }
    let kept = detections.filter { $0.score >= options.scoreThreshold }.prefix(options.maxDetections)
    return Self.json(DetectAnswer(width: image.width, height: image.height, detections: kept.map(ServedDetection.init)))
  }

  /// Decodes the upload as RGB, refusing before decoding an image whose header declares more
  /// pixels than allowed.
  private func decode(_ bytes: Data) throws(RequestError) -> Image {
    let info: ImageInfo
    do {
      info = try ImageCodec.info(bytes)
    } catch {
      throw RequestError(.badRequest, "not a readable JPEG or PNG image: \(error)", reason: "bad_image")
    }
    guard info.width > 0, info.height > 0 else {
      throw RequestError(.badRequest, "the image is empty (\(info.width)x\(info.height))", reason: "bad_image")
    }
    guard info.width.multipliedReportingOverflow(by: info.height).partialValue <= settings.maxImagePixels,
      info.width <= settings.maxImagePixels, info.height <= settings.maxImagePixels
    else {
      throw RequestError(
        .contentTooLarge, "the image declares \(info.width)x\(info.height) pixels, more than the limit of \(settings.maxImagePixels)",
        reason: "too_many_pixels")
    }
    do {
      return try ImageCodec.decode(bytes, channels: 3)
    } catch {
      throw RequestError(.badRequest, "corrupt image: \(error)", reason: "bad_image")
    }
  }

  private func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
      group.addTask { try await operation() }
      group.addTask {
        try await Task.sleep(until: deadline)
        throw RequestError(.requestTimeout, "the body did not arrive within the request timeout", reason: "timeout")
      }
      defer { group.cancelAll() }
      guard let first = try await group.next() else { throw CancellationError() }
      return first
    }
  }

  // MARK: Answers

  static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Encoding our own answer types cannot fail; an empty object stands in if it somehow did.
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return json(data: data, status: status, headers: headers)
  }

  static func json(data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var headers = headers
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  /// A path as it may appear in a message: printable ASCII, at most 100 characters.
  static func printable(_ path: String) -> String {
    let cleaned = String(path.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    return cleaned.count > 100 ? String(cleaned.prefix(100)) + "..." : cleaned
  }

  static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<y.count { difference |= (i < x.count ? x[i] : 0) ^ y[i] }
    return difference == 0
  }

  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
  }
}

/// The query parameters of `POST /v1/detect`.
struct DetectOptions {
  var scoreThreshold: Double
  var maxDetections: Int

  /// - Parameter query: the value of a query parameter by name, nil when absent.
  init(query: (String) -> Substring?, minimumScore: Double, maxDetections limit: Int) throws(RequestError) {
    scoreThreshold = minimumScore
    maxDetections = limit
    if let text = query("score_threshold") {
      guard let value = Double(text), value.isFinite, (0...1).contains(value) else {
        throw RequestError(.badRequest, "score_threshold must be a number between 0 and 1")
      }
      guard value >= minimumScore else {
        throw RequestError(
          .badRequest,
          "score_threshold \(value) is below the server's \(minimumScore), which the model applies (start the server with a lower --score-threshold)")
      }
      scoreThreshold = value
    }
    if let text = query("max_detections") {
      guard let value = Int(text), value >= 1 else {
        throw RequestError(.badRequest, "max_detections must be a whole number of at least 1")
      }
      maxDetections = min(value, limit)
    }
  }
}

/// `POST /v1/detect`'s answer.
struct DetectAnswer: Encodable {
  var width: Int
  var height: Int
  var detections: [ServedDetection]
}

/// One detection: `predictions.json`'s fields without the file name.
struct ServedDetection: Encodable {
  var categoryId: Int
  var categoryName: String
  var bbox: [Double]
  var score: Double
  var segmentation: Prediction.Segmentation?

  init(_ prediction: Prediction) {
    categoryId = prediction.categoryId
    categoryName = prediction.categoryName
    bbox = prediction.bbox
    score = prediction.score
    segmentation = prediction.segmentation
  }

  private enum CodingKeys: String, CodingKey {
    case categoryId = "category_id", categoryName = "category_name", bbox, score, segmentation
  }
}
