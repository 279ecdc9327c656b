import Data
import Foundation
import Testing

@testable import Serving

/// The batcher with a stand-in model (its output is each image's width), whose passes can be
/// held open to fill the queue deterministically.
@Suite struct DetectionBatcherTests {
  /// A model that reports each batch's widths and can be told to block until released.
  final class Gate: @unchecked Sendable {
    let started = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var batches: [[Int]] = []
    let blocking: Bool

    init(blocking: Bool) { self.blocking = blocking }

    func run(_ images: [Image]) -> [Int] {
      lock.withLock { batches.append(images.map(\.width)) }
      if blocking {
        started.signal()
        release.wait()
      }
      return images.map(\.width)
    }

    var seen: [[Int]] { lock.withLock { batches } }
  }

  static func image(width: Int) -> Image { Image(width: width, height: 1, channels: 3, pixels: [UInt8](repeating: 0, count: width * 3)) }

  @Test func groupsConcurrentImagesUpToTheBatchSize() async throws {
    let gate = Gate(blocking: false)
    let metrics = ServerMetrics()
    let batcher = DetectionBatcher<Int>(maxBatchSize: 4, maxWait: .milliseconds(500), capacity: 64, metrics: metrics, run: gate.run)
    batcher.start()
    // Six requests announce their images before sending them, as the server does while it reads
    // and decodes their bodies.
    for _ in 1...6 { batcher.announceArrival() }
    let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
      for width in 1...6 {
        group.addTask { (width, try await batcher.detect(Self.image(width: width), timeout: .seconds(60), announced: true)) }
      }
      return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
    }
    await batcher.finish()
    // Each image gets its own output back, whatever batch it ran in.
    #expect(outputs == Dictionary(uniqueKeysWithValues: (1...6).map { ($0, $0) }))
    #expect(gate.seen.allSatisfy { $0.count <= 4 } && gate.seen.flatMap { $0 }.sorted() == Array(1...6))
    // Six images arriving together take two passes: four, then the two left, at once.
    #expect(gate.seen.count == 2, "\(gate.seen)")
    #expect(metrics.render().contains("simpledet_batch_size_count 2"))
  }

  @Test func fullQueueIsRefusedAtOnce() async throws {
    let gate = Gate(blocking: true)
    let batcher = DetectionBatcher<Int>(maxBatchSize: 1, maxWait: .zero, capacity: 1, run: gate.run)
    batcher.start()
    let running = Task { try await batcher.detect(Self.image(width: 1), timeout: .seconds(60)) }
    await Task.detached { gate.started.wait() }.value
    let queued = Task { try await batcher.detect(Self.image(width: 2), timeout: .seconds(60)) }
    while batcher.queueDepth != 1 { try await Task.sleep(for: .milliseconds(5)) }
    var refusal: BatcherRefusal?
    do {
      _ = try await batcher.detect(Self.image(width: 3), timeout: .seconds(60))
    } catch let error as BatcherRefusal {
      refusal = error
    }
    #expect(refusal == .queueFull)
    gate.release.signal()
    #expect(try await running.value == 1)
    gate.release.signal()
    #expect(try await queued.value == 2)
    await batcher.finish()
  }

  @Test func timeoutAnswersWithoutWaitingForTheModel() async throws {
    let gate = Gate(blocking: true)
    let batcher = DetectionBatcher<Int>(maxBatchSize: 1, maxWait: .zero, capacity: 4, run: gate.run)
    batcher.start()
    await #expect(throws: BatcherRefusal.timedOut) {
      try await batcher.detect(Self.image(width: 1), timeout: .milliseconds(100))
    }
    // The image reached the model, whose pass is still held open: the answer came from the
    // timeout, not from the model (a wall-clock bound would only measure the machine's load).
    #expect(gate.seen == [[1]])
    gate.release.signal()
    await batcher.finish()
  }

  /// Portrait and landscape images arriving mixed run in two batches of their own orientation,
  /// instead of one padded to a square.
  @Test func batchesGroupImagesOfSimilarSize() async throws {
    final class Shapes: @unchecked Sendable {
      let lock = NSLock()
      var batches: [[String]] = []
      func run(_ images: [Image]) -> [Int] {
        lock.withLock { batches.append(images.map { $0.height > $0.width ? "P" : "L" }) }
        return images.map(\.width)
      }
    }
    let shapes = Shapes()
    let batcher = DetectionBatcher<Int>(
      maxBatchSize: 4, maxWait: .seconds(3600), capacity: 8, footprint: { ($0.height, $0.width) }, run: shapes.run)
    func image(_ height: Int, _ width: Int) -> Image {
      Image(width: width, height: height, channels: 3, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
    batcher.start()
    for _ in 0..<4 { batcher.announceArrival() }
    try await withThrowingTaskGroup(of: Int.self) { group in
      for (i, size) in [(10, 20), (20, 10), (10, 20), (20, 10)].enumerated() {
        group.addTask { try await batcher.detect(image(size.0, size.1), timeout: .seconds(60), announced: true) }
        // One at a time, so that the queue holds L, P, L, P; the fourth starts the batch.
        while i < 3 && batcher.queueDepth < i + 1 { try await Task.sleep(for: .milliseconds(2)) }
      }
      try await group.waitForAll()
    }
    await batcher.finish()
    #expect(shapes.lock.withLock { shapes.batches } == [["L", "L"], ["P", "P"]])
  }

  /// With nothing else on its way, an image runs at once instead of waiting for company.
  @Test func loneImageDoesNotWait() async throws {
    let gate = Gate(blocking: false)
    let batcher = DetectionBatcher<Int>(maxBatchSize: 8, maxWait: .seconds(36_000), capacity: 8, run: gate.run)
    batcher.start()
    batcher.announceArrival()
    // A batch waiting for company would wait ten hours; the request's 20-minute timeout would
    // then throw and fail the test.
    #expect(try await batcher.detect(Self.image(width: 7), timeout: .seconds(1200), announced: true) == 7)
    // A withdrawn announcement (a request that failed while decoding) does not hold a batch either.
    batcher.announceArrival()
    batcher.announceArrival()
    batcher.withdrawArrival()
    #expect(try await batcher.detect(Self.image(width: 8), timeout: .seconds(1200), announced: true) == 8)
    await batcher.finish()
  }

  @Test func finishRunsWhatIsQueuedThenRefuses() async throws {
    let gate = Gate(blocking: false)
    let batcher = DetectionBatcher<Int>(maxBatchSize: 8, maxWait: .seconds(3600), capacity: 8, run: gate.run)
    batcher.start()
    // With a second image announced, the batch would wait an hour for it; finishing runs it at once.
    batcher.announceArrival()
    batcher.announceArrival()
    let waiting = Task { try await batcher.detect(Self.image(width: 5), timeout: .seconds(3600), announced: true) }
    while !(batcher.queueDepth == 1) { try await Task.sleep(for: .milliseconds(5)) }
    #expect(gate.seen.isEmpty)
    await batcher.finish()
    #expect(try await waiting.value == 5)
    batcher.withdrawArrival()
    await #expect(throws: BatcherRefusal.shuttingDown) {
      try await batcher.detect(Self.image(width: 1), timeout: .seconds(1))
    }
  }
}

@Suite struct RequestParsingTests {
  @Test func multipartFindsTheImagePart() throws {
    let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 0x0D, 0x0A])
    var body = Data("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ntext\r\n".utf8)
    body += Data("--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n".utf8) + png
    body += Data("\r\n--XyZ--\r\n".utf8)
    let found = try ImageUpload.imageBytes(body: body, contentType: "multipart/form-data; boundary=\"XyZ\"")
    #expect(found == png)
    #expect(ImageUpload.boundary(in: "multipart/form-data; charset=utf-8; boundary=abc") == "abc")
    #expect(ImageUpload.boundary(in: "multipart/form-data; boundary=") == nil)
    #expect(ImageUpload.boundary(in: "multipart/form-data; boundary=" + String(repeating: "x", count: 71)) == nil)
    // A raw body is the image itself.
    #expect(try ImageUpload.imageBytes(body: png, contentType: "image/png") == png)
    #expect(throws: RequestError.self) { try ImageUpload.imageBytes(body: Data(), contentType: nil) }
    #expect(throws: RequestError.self) {
      try ImageUpload.imageBytes(body: Data("--XyZ\r\n\r\n--XyZ--".utf8), contentType: "multipart/form-data; boundary=XyZ")
    }
  }

  @Test func detectOptionsAreCheckedAndBounded() throws {
    func options(_ query: [String: String], minimum: Double = 0.05) throws(RequestError) -> DetectOptions {
      try DetectOptions(query: { query[$0].map { Substring($0) } }, minimumScore: minimum, maxDetections: 100)
    }
    let defaults = try options([:])
    #expect(defaults.scoreThreshold == 0.05 && defaults.maxDetections == 100)
    let chosen = try options(["score_threshold": "0.5", "max_detections": "1000"])
    #expect(chosen.scoreThreshold == 0.5 && chosen.maxDetections == 100)
    for bad in [["score_threshold": "0.01"], ["score_threshold": "inf"], ["score_threshold": "2"], ["max_detections": "0"], ["max_detections": "1e3"]] {
      #expect(throws: RequestError.self) { try options(bad) }
    }
  }

  @Test func metricsFollowThePrometheusTextFormat() {
    let metrics = ServerMetrics()
    for _ in 0..<3 { metrics.requestStarted() }
    metrics.recordRequest(path: "/v1/detect", code: 200, seconds: 0.02)
    metrics.recordRequest(path: "/v1/detect", code: 200, seconds: 3)
    metrics.recordRequest(path: "/\u{0}hostile\"path", code: 404, seconds: 0.001)
    metrics.recordBatch(size: 3, seconds: 0.1)
    metrics.recordRefusal("bad_image")
    let text = metrics.render()
    #expect(text.contains("simpledet_requests_total{route=\"/v1/detect\",code=\"200\"} 2"))
    #expect(text.contains("simpledet_requests_total{route=\"other\",code=\"404\"} 1"))
    #expect(text.contains("simpledet_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"0.025\"} 1"))
    #expect(text.contains("simpledet_request_duration_seconds_bucket{route=\"/v1/detect\",le=\"+Inf\"} 2"))
    #expect(text.contains("simpledet_batch_size_bucket{le=\"4\"} 1") && text.contains("simpledet_batch_size_sum 3"))
    #expect(text.contains("simpledet_errors_total{reason=\"bad_image\"} 1"))
    #expect(!text.contains("hostile"))
    #expect(text.contains("simpledet_requests_in_flight 0"))
    // Every line is a comment or `name{labels} value`.
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      #expect(line.split(separator: " ").count == 2 && Double(line.split(separator: " ")[1]) != nil, "\(line)")
    }
  }
}
