import Foundation

/// Runs the `simpledet` executable that `swift build` put beside the test bundle.
struct CommandLineRunner {
  struct Result {
    var status: Int32
    var output: String
    var errors: String
  }

  static let executable: URL = {
    let candidates = [
      Bundle.main.executableURL?.deletingLastPathComponent(),
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
      Bundle(for: Marker.self).bundleURL.deletingLastPathComponent(),
    ].compactMap { $0 }.map { $0.appendingPathComponent("simpledet") }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
  }()

  /// Starts `simpledet arguments` without waiting, with `environment` added to this process's.
  static func start(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = folder
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return (process, out, err)
  }

  /// Runs `simpledet arguments` to the end.
  static func run(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws -> Result {
    let (process, out, err) = try start(arguments, in: folder, environment: environment)
    // Read before waiting, so a full pipe cannot block the child.
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
      errors: String(decoding: errors, as: UTF8.self))
  }
}

private final class Marker {}

/// A scratch folder removed when the test ends.
final class ScratchFolder: Sendable {
  let url: URL

  init(url: URL = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-cli-\(UUID().uuidString)")) throws {
    self.url = url
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> URL { url.appendingPathComponent(name) }

  func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name).path) }

  @discardableResult
  func write(_ name: String, _ text: String) throws -> URL {
    let url = path(name)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
    return url
  }
}

/// A config small enough to train in seconds: shapes images resized to 96 pixels, a ResNet-18
/// FPN with 16 channels, few proposals.
func tinyConfig(maxIterations: Int = 6, checkpointPeriod: Int = 3) -> String {
  """
  model:
    classes: 4
    backbone: {depth: 18, norm: BN, frozen_stages: 0}
    neck: {kind: fpn, channels: 16}
    transform: {min_size: [96], max_size: 128}
    rpn:
      anchor_sizes: [[8], [16], [32], [64], [128]]
      pre_nms_top_n_train: 100
      post_nms_top_n_train: 50
      pre_nms_top_n_test: 50
      post_nms_top_n_test: 20
      batch_size_per_image: 32
    roi_heads:
      batch_size_per_image: 16
      box_head: {kind: two_mlp, representation_size: 32}
  data:
    kind: shapes
    train: {image_count: 8}
    test: {image_count: 4}
    workers: 1
  solver:
    base_lr: 0.01
    batch_size: 2
    max_iter: \(maxIterations)
    warmup_iters: 2
    steps: [4]
    clip_grad_norm: 10.0
  runtime:
    threads: 1
    log_period: 1
    checkpoint_period: \(checkpointPeriod)
    eval_period: 0
  """
}

/// Each record's total loss in `run/metrics.jsonl`, by iteration.
func losses(_ folder: ScratchFolder, _ run: String) throws -> [Int: Double] {
  let text = try String(contentsOf: folder.path("\(run)/metrics.jsonl"), encoding: .utf8)
  var out: [Int: Double] = [:]
  for line in text.split(separator: "\n") {
    guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
      let iteration = record["iteration"] as? Int, let loss = record["loss"] as? Double
    else { continue }
    out[iteration] = loss
  }
  return out
}
