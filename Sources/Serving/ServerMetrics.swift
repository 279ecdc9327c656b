import Foundation

/// What `/metrics` reports, in Prometheus' text format: requests by route and status, their
/// latencies, the batches the model ran, and why requests were refused. Thread-safe.
public final class ServerMetrics: @unchecked Sendable {
  /// Routes are labelled by name from this list only, so that hostile paths cannot grow the
  /// label set without bound.
  static let routes: Set<String> = ["/v1/detect", "/v1/model", "/healthz", "/metrics"]
  static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
  static let batchSizeBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64]

  private struct Histogram {
    let bounds: [Double]
    var counts: [Int]
    var sum = 0.0
    var count = 0

    init(bounds: [Double]) {
      self.bounds = bounds
      counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
      if let i = bounds.firstIndex(where: { value <= $0 }) { counts[i] += 1 }
      sum += value
      count += 1
    }
  }

  private struct RouteAndCode: Hashable, Comparable {
    var route: String
    var code: Int
    static func < (a: Self, b: Self) -> Bool { (a.route, a.code) < (b.route, b.code) }
  }

  private let lock = NSLock()
  private var requests: [RouteAndCode: Int] = [:]
  private var latencies: [String: Histogram] = [:]
  private var batchSizes = Histogram(bounds: batchSizeBuckets)
  private var inferenceSeconds = Histogram(bounds: latencyBuckets)
  private var refusals: [String: Int] = [:]
  private var queueDepth = 0
  private var inFlight = 0

  public init() {}

  static func routeLabel(_ path: String) -> String { routes.contains(path) ? path : "other" }

  /// A request began: it counts as in flight until `recordRequest` answers it.
  func requestStarted() {
    lock.withLock { inFlight += 1 }
  }

  func recordRequest(path: String, code: Int, seconds: Double) {
    let route = Self.routeLabel(path)
    lock.withLock {
      inFlight -= 1
      requests[RouteAndCode(route: route, code: code), default: 0] += 1
      latencies[route, default: Histogram(bounds: Self.latencyBuckets)].observe(seconds)
    }
  }

  func recordBatch(size: Int, seconds: Double) {
    lock.withLock {
      batchSizes.observe(Double(size))
      inferenceSeconds.observe(seconds)
    }
  }

  /// A request answered with an error, by a short reason such as `bad_image` or `queue_full`.
  func recordRefusal(_ reason: String) {
    lock.withLock { refusals[reason, default: 0] += 1 }
  }

  func setQueueDepth(_ depth: Int) {
    lock.withLock { queueDepth = depth }
  }

  /// The exposition text.
  public func render() -> String {
    lock.withLock {
      var lines: [String] = []
      lines += Self.header("simpledet_requests_total", "HTTP requests answered, by route and status code.", "counter")
      for key in requests.keys.sorted() {
        lines.append("simpledet_requests_total{route=\"\(key.route)\",code=\"\(key.code)\"} \(requests[key]!)")
      }
      lines += Self.header("simpledet_request_duration_seconds", "Time from a request's arrival to its answer, by route.", "histogram")
      for route in latencies.keys.sorted() {
        lines += Self.lines(of: latencies[route]!, name: "simpledet_request_duration_seconds", labels: "route=\"\(route)\",")
      }
      lines += Self.header("simpledet_batch_size", "Images per forward pass of the model.", "histogram")
      lines += Self.lines(of: batchSizes, name: "simpledet_batch_size", labels: "")
      lines += Self.header("simpledet_inference_duration_seconds", "Time of one forward pass over a batch.", "histogram")
      lines += Self.lines(of: inferenceSeconds, name: "simpledet_inference_duration_seconds", labels: "")
      lines += Self.header("simpledet_errors_total", "Requests answered with an error, by reason.", "counter")
      for reason in refusals.keys.sorted() {
        lines.append("simpledet_errors_total{reason=\"\(reason)\"} \(refusals[reason]!)")
      }
      lines += Self.header("simpledet_queue_depth", "Images waiting for the model.", "gauge")
      lines.append("simpledet_queue_depth \(queueDepth)")
      lines += Self.header("simpledet_requests_in_flight", "Requests received and not yet answered (this one included).", "gauge")
      lines.append("simpledet_requests_in_flight \(inFlight)")
      return lines.joined(separator: "\n") + "\n"
    }
  }

  private static func header(_ name: String, _ help: String, _ type: String) -> [String] {
    ["# HELP \(name) \(help)", "# TYPE \(name) \(type)"]
  }

  private static func lines(of histogram: Histogram, name: String, labels: String) -> [String] {
    var lines: [String] = []
    var cumulative = 0
    for (bound, count) in zip(histogram.bounds, histogram.counts) {
      cumulative += count
      lines.append("\(name)_bucket{\(labels)le=\"\(number(bound))\"} \(cumulative)")
    }
    lines.append("\(name)_bucket{\(labels)le=\"+Inf\"} \(histogram.count)")
    let plain = labels.isEmpty ? "" : "{\(labels.dropLast())}"
    lines.append("\(name)_sum\(plain) \(number(histogram.sum))")
    lines.append("\(name)_count\(plain) \(histogram.count)")
    return lines
  }

  private static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}
