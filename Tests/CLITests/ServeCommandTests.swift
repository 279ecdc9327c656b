import Data
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `simpledet serve` as a client sees it: a server on a free loopback port answering good,
/// concurrent, malformed and unauthorised requests, detections equal to `simpledet predict`'s,
/// and a graceful stop on SIGTERM.
@Suite(.serialized) struct ServeCommandTests {
  static let model = ["--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--score-threshold", "0"]

  /// Two shapes images (PNG) and one as JPEG, in the shared tiny run's folder.
  static let images: (folder: ScratchFolder, png: [Data], jpeg: Data) = {
    let folder = CommandTests.run
    let shapes = ShapesDataset(imageCount: 2, seed: 21)
    let png = (0..<2).map { try! ImageCodec.encodePNG(shapes.image(at: $0)) }
    let jpeg = try! ImageCodec.encodeJPEG(shapes.image(at: 1))
    try! FileManager.default.createDirectory(at: folder.path("serve-images"), withIntermediateDirectories: true)
    for (i, data) in png.enumerated() { try! data.write(to: folder.path("serve-images/shape\(i).png")) }
    try! jpeg.write(to: folder.path("serve-images/shape1.jpg"))
    return (folder, png, jpeg)
  }()

  /// `simpledet predict`'s detections for the serve images, by file name.
  static func predicted() throws -> [String: [[String: Any]]] {
    let folder = images.folder
    let result = try CommandLineRunner.run(
      ["predict", "--input", "serve-images", "--output", "serve-predicted"] + model, in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    let all = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("serve-predicted/predictions.json"))) as? [[String: Any]] ?? []
    return Dictionary(grouping: all) { $0["file_name"] as? String ?? "" }
  }

  static func detections(_ answer: LoopbackHTTP.Answer) -> [[String: Any]] {
    (answer.json as? [String: Any])?["detections"] as? [[String: Any]] ?? []
  }

  /// Same classes, boxes and scores, in the same order, as exact numbers.
  static func same(_ served: [[String: Any]], _ predicted: [[String: Any]]) -> Bool {
    guard served.count == predicted.count, !served.isEmpty else { return false }
    return zip(served, predicted).allSatisfy { s, p in
      s["category_id"] as? Int == p["category_id"] as? Int && s["category_name"] as? String == p["category_name"] as? String
        && s["bbox"] as? [Double] == p["bbox"] as? [Double] && s["score"] as? Double == p["score"] as? Double
    }
  }

  @Test func answersEqualPredictAndDescribeTheModel() throws {
    let (folder, png, jpeg) = Self.images
    let server = try ServerProcess(Self.model, in: folder.url)
    let client = server.client
    let predicted = try Self.predicted()

    let health = try client.request("GET", "/healthz")
    #expect(health.status == 200 && health.text.contains("ok"))
    let model = try client.request("GET", "/v1/model")
    let description = (model.json as? [String: Any])?["model"] as? [String: Any]
    #expect(model.status == 200 && description?["classes"] as? [String] == ["circle", "rectangle", "triangle"], "\(model.text)")

    for (i, data) in png.enumerated() {
      let answer = try client.request("POST", "/v1/detect", body: data, headers: ["Content-Type": "image/png"])
      #expect(answer.status == 200, "\(answer.text)")
      #expect(Self.same(Self.detections(answer), predicted["shape\(i).png"] ?? []), "shape\(i).png: \(answer.text)")
      let size = answer.json as? [String: Any]
      #expect(size?["width"] as? Int == ShapesDataset(imageCount: 2, seed: 21).image(at: i).width)
    }
    let jpegAnswer = try client.request("POST", "/v1/detect", body: jpeg, headers: ["Content-Type": "image/jpeg"])
    #expect(Self.same(Self.detections(jpegAnswer), predicted["shape1.jpg"] ?? []), "\(jpegAnswer.text)")

    // A multipart form, as `curl -F image=@shape0.png` sends it.
    let boundary = "----simpledet-test-boundary"
    var form = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
    form += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"shape0.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
    form += png[0] + Data("\r\n--\(boundary)--\r\n".utf8)
    let multipart = try client.request("POST", "/v1/detect", body: form, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
    #expect(Self.same(Self.detections(multipart), predicted["shape0.png"] ?? []), "\(multipart.text)")

    // Query parameters filter what the model found.
    let all = Self.detections(try client.request("POST", "/v1/detect", body: png[0]))
    let top2 = Self.detections(try client.request("POST", "/v1/detect?max_detections=2", body: png[0]))
    #expect(top2.count == min(2, all.count) && Self.same(top2, Array(all.prefix(2))))
    let median = all.map { $0["score"] as? Double ?? 0 }.sorted()[all.count / 2]
    let above = Self.detections(try client.request("POST", "/v1/detect?score_threshold=\(median)", body: png[0]))
    #expect(!above.isEmpty && above.allSatisfy { ($0["score"] as? Double ?? 0) >= median })

    let metrics = try client.request("GET", "/metrics")
    #expect(metrics.status == 200)
    #expect(metrics.text.contains("simpledet_requests_total{route=\"/v1/detect\",code=\"200\"} 7"), "\(metrics.text)")
    #expect(metrics.text.contains("simpledet_batch_size_count"))
    let stopped = server.stop()
    #expect(stopped.status == 0, "\(stopped.errors)")
  }

  /// Requests that arrive together are batched (one forward pass for several) and each gets the
  /// detections of its own image. They are made to arrive together, whatever the machine's load:
  /// each sends half its body, and the rest once the server holds all of them.
  @Test func concurrentRequestsAreBatched() throws {
    let (folder, png, _) = Self.images
    let server = try ServerProcess(Self.model + ["--max-batch-size", "8", "--max-batch-wait", "5000"], in: folder.url)
    let client = server.client
    let alone = Self.detections(try client.request("POST", "/v1/detect", body: png[0]))
    let count = 8
    let body = png[0]
    let head = Data("POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
    let connections = try (0..<count).map { _ in try LoopbackHTTP.Connection(port: server.port) }
    for connection in connections { connection.send(head + body.prefix(body.count / 2)) }
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline {
      let metrics = (try? client.request("GET", "/metrics").text) ?? ""
      if (Self.value(of: "simpledet_requests_in_flight", in: metrics) ?? 0) >= Double(count + 1) { break }
      usleep(20_000)
    }
    for connection in connections { connection.send(body.suffix(from: body.count / 2)) }
    for connection in connections {
      let answer = try client.answer(connection.receiveAll())
      #expect(answer.status == 200, "\(answer.text)")
      let detections = Self.detections(answer)
      #expect(detections.count == alone.count)
      // One image in a batch of equal images: the same detections up to float rounding.
      for (a, b) in zip(detections, alone) {
        let boxA = a["bbox"] as? [Double] ?? [], boxB = b["bbox"] as? [Double] ?? []
        #expect(zip(boxA, boxB).allSatisfy { abs($0 - $1) < 1e-3 } && abs((a["score"] as? Double ?? 0) - (b["score"] as? Double ?? 1)) < 1e-5)
      }
    }
    let metrics = try client.request("GET", "/metrics").text
    // The lone request, then the eight in at most two passes (the first waits for the others).
    let passes = Self.value(of: "simpledet_batch_size_count", in: metrics)
    #expect(passes != nil && passes! <= 3, "\(metrics)")
    _ = server.stop()
  }

  @Test func malformedRequestsGetOneLineErrors() throws {
    let (folder, png, _) = Self.images
    let server = try ServerProcess(Self.model + ["--max-body-mb", "1", "--max-image-pixels", "1000000"], in: folder.url)
    let client = server.client
    func error(_ answer: LoopbackHTTP.Answer) -> String { (answer.json as? [String: Any])?["error"] as? String ?? "" }

    let cases: [(String, String, Data, [String: String], Int, String)] = [
      ("POST", "/v1/detect", Data(), [:], 400, "empty body"),
      ("POST", "/v1/detect", Data("hello".utf8), [:], 400, "not a readable JPEG or PNG"),
      ("POST", "/v1/detect", png[0].prefix(200), [:], 400, "truncated"),
      ("POST", "/v1/detect", Self.pngHeader(width: 100_000, height: 100_000), [:], 413, "more than the limit"),
      ("POST", "/v1/detect", Data(repeating: 0x89, count: 2 << 20), [:], 413, "larger than the limit"),
      ("POST", "/v1/detect", png[0], ["Content-Type": "multipart/form-data"], 400, "boundary"),
      ("POST", "/v1/detect", Data("--b\r\n\r\nhello\r\n--b--".utf8), ["Content-Type": "multipart/form-data; boundary=b"], 400, "no JPEG or PNG part"),
      ("POST", "/v1/detect?score_threshold=abc", png[0], [:], 400, "score_threshold"),
      ("POST", "/v1/detect?score_threshold=nan", png[0], [:], 400, "score_threshold"),
      ("POST", "/v1/detect?max_detections=-3", png[0], [:], 400, "max_detections"),
      ("GET", "/v1/detect", Data(), [:], 405, "takes POST only"),
      ("DELETE", "/v1/model", Data(), [:], 405, "takes GET only"),
      ("GET", "/../../etc/passwd", Data(), [:], 404, "no route"),
    ]
    for (method, path, body, headers, status, message) in cases {
      let answer = try client.request(method, path, body: body, headers: headers)
      #expect(answer.status == status && error(answer).contains(message), "\(method) \(path): \(answer.status) \(answer.text)")
      #expect(!error(answer).contains("\n"))
    }
    // Bytes that are not HTTP at all, and a request cut off mid-body: the server drops them and
    // goes on answering.
    _ = try? client.send(Data("GARBAGE \u{0}\u{1}\u{2}\r\n\r\n".utf8), timeout: 10)
    _ = try? client.send(Data("POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc".utf8), timeout: 2)
    _ = try? client.send(Data("POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n".utf8), timeout: 10)
    let health = try client.request("GET", "/healthz")
    #expect(health.status == 200)
    let good = try client.request("POST", "/v1/detect", body: png[1])
    #expect(good.status == 200, "\(good.text)")
    let metrics = try client.request("GET", "/metrics").text
    #expect((Self.value(of: "simpledet_errors_total{reason=\"bad_image\"}", in: metrics) ?? 0) >= 2, "\(metrics)")
    let stopped = server.stop()
    #expect(stopped.status == 0, "\(stopped.errors)")
  }

  @Test func bearerTokenGuardsAllButHealth() throws {
    let (folder, png, _) = Self.images
    try Data("s3cret-token\n".utf8).write(to: folder.path("token.txt"))
    let server = try ServerProcess(Self.model + ["--token-file", "token.txt"], in: folder.url)
    let client = server.client
    #expect(try client.request("GET", "/healthz").status == 200)
    let refused = try client.request("POST", "/v1/detect", body: png[0])
    #expect(refused.status == 401 && refused.headers["www-authenticate"] == "Bearer", "\(refused.text)")
    #expect(try client.request("GET", "/metrics").status == 401)
    #expect(try client.request("GET", "/v1/model", headers: ["Authorization": "Bearer wrong"]).status == 401)
    let accepted = try client.request("POST", "/v1/detect", body: png[0], headers: ["Authorization": "Bearer s3cret-token"])
    #expect(accepted.status == 200, "\(accepted.text)")
    _ = server.stop()

    // A missing or empty token file stops the server before it listens.
    try Data("  \n".utf8).write(to: folder.path("empty-token.txt"))
    for file in ["missing-token.txt", "empty-token.txt"] {
      let result = try CommandLineRunner.run(["serve", "--port", "0", "--token-file", file] + Self.model, in: folder.url)
      #expect(result.status != 0 && result.errors.contains(file), "\(result.errors)")
    }
  }

  /// A full queue answers 503 with Retry-After at once; everything else is answered 200.
  @Test func fullQueueAnswers503() throws {
    let (folder, png, _) = Self.images
    let server = try ServerProcess(Self.model + ["--queue-size", "1", "--max-batch-size", "1"], in: folder.url)
    let client = server.client
    let count = 12
    let answers = LockedAnswers(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { i in
      answers.set(i, Result { try client.request("POST", "/v1/detect", body: png[0]) })
    }
    var refused = 0
    for result in answers.all {
      let answer = try result.get()
      #expect(answer.status == 200 || (answer.status == 503 && answer.headers["retry-after"] == "1"), "\(answer.status) \(answer.text)")
      if answer.status == 503 { refused += 1 }
    }
    let metrics = try client.request("GET", "/metrics").text
    #expect(Int(Self.value(of: "simpledet_errors_total{reason=\"queue_full\"}", in: metrics) ?? 0) == refused, "\(metrics)")
    _ = server.stop()
  }

  /// SIGTERM while three requests are still arriving (their bodies half sent): the server stops
  /// accepting, answers each of them once their bodies are complete, then exits 0.
  @Test func sigtermAnswersRequestsInFlightThenExits() throws {
    let (folder, png, _) = Self.images
    let server = try ServerProcess(Self.model, in: folder.url)
    let client = server.client
    let body = png[0]
    let head = Data("POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
    let connections = try (0..<3).map { _ in try LoopbackHTTP.Connection(port: server.port) }
    for connection in connections { connection.send(head + body.prefix(body.count / 2)) }
    // Wait until the server holds all three (the metrics request itself makes a fourth).
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
      let metrics = (try? client.request("GET", "/metrics").text) ?? ""
      if (Self.value(of: "simpledet_requests_in_flight", in: metrics) ?? 0) >= 4 { break }
      usleep(20_000)
    }
    kill(server.process.processIdentifier, SIGTERM)
    usleep(300_000)
    // A new connection is no longer served.
    #expect((try? client.request("GET", "/healthz"))?.status != 200)
    for connection in connections { connection.send(body.suffix(from: body.count / 2)) }
    for connection in connections {
      let answer = try client.answer(connection.receiveAll())
      #expect(answer.status == 200, "\(answer.text)")
      #expect(!Self.detections(answer).isEmpty)
    }
    let stopped = server.stop()
    #expect(stopped.status == 0, "\(stopped.errors)")
    #expect(stopped.output.contains("stopped after answering"))
  }

  /// A port already taken is a one-line error and a non-zero exit.
  @Test func portInUseIsAnError() throws {
    let (folder, _, _) = Self.images
    let server = try ServerProcess(Self.model, in: folder.url)
    let result = try CommandLineRunner.run(["serve", "--port", "\(server.port)"] + Self.model, in: folder.url)
    #expect(result.status != 0 && result.errors.contains("cannot serve on 127.0.0.1:\(server.port)"), "\(result.errors)")
    _ = server.stop()
  }

  // MARK: Helpers

  /// The value of the exposition line starting with `series ` (exact name and labels).
  static func value(of series: String, in metrics: String) -> Double? {
    for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
      return Double(line.dropFirst(series.count + 1))
    }
    return nil
  }

  /// A PNG whose header declares `width`×`height` RGB pixels and whose data is ten zero bytes:
  /// a decompression bomb as far as the header goes.
  static func pngHeader(width: Int, height: Int) -> Data {
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
      let typed = Array(type.utf8) + body
      return be32(body.count) + typed + be32(Int(crc32(typed)))
    }
    func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    let header = be32(width) + be32(height) + [8, 2, 0, 0, 0]
    // zlib of ten zero bytes.
    let idat: [UInt8] = [0x78, 0x9C, 0x63, 0x60, 0x80, 0x00, 0x00, 0x00, 0x0A, 0x00, 0x01]
    return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", idat) + chunk("IEND", []))
  }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }
}

private final class LockedAnswers: @unchecked Sendable {
  private let lock = NSLock()
  private var answers: [Result<LoopbackHTTP.Answer, any Error>]

  init(count: Int) { answers = Array(repeating: .failure(LoopbackHTTP.Failure(description: "no answer")), count: count) }
  func set(_ i: Int, _ answer: Result<LoopbackHTTP.Answer, any Error>) { lock.withLock { answers[i] = answer } }
  var all: [Result<LoopbackHTTP.Answer, any Error>] { lock.withLock { answers } }
}
