import ArgumentParser
import Config
import Detection
import Engine
import Foundation
import NN
import Torch

/// Times training steps or inference of a detector on synthetic input of a fixed size.
struct Benchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time training steps or inference of a detector on synthetic N×N input.",
    discussion: """
      The input is resized to nothing: the network sees exactly N×N. Training mode uses a few \
      random valid boxes per image and an SGD step. Reports images/s, seconds per iteration, \
      the peak bytes held by tensors and the peak resident memory, and the share of time in NMS, \
      RoIAlign and anchor matching. \
      `--mode nms` instead times each NMS method on --boxes overlapping boxes of one class; \
      `--mode dcn` a deformable convolution's forward and backward against a plain 3×3 \
      convolution at ResNet-50's C4 and C5 shapes for the input size.
      """)

  enum Mode: String, ExpressibleByArgument, CaseIterable { case train, infer, nms, dcn }
  enum Precision: String, ExpressibleByArgument, CaseIterable { case fp32, bf16, int8 }

  @Option(help: "The detector: \(DetectorPreset.allCases.map(\.rawValue).joined(separator: ", ")) (the default without --config).")
  var preset: DetectorPreset?

  @Option(help: "A config file (YAML) whose model section builds the detector.")
  var config: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Overrides a config key, e.g. --set model.rpn.nms_threshold=0.6 (repeatable).", valueName: "key.path=value"))
  var overrides: [String] = []

  @Option(help: "A weight file (.safetensors or .pth) to load; random seeded weights otherwise.")
  var weights: String?

  @Option(help: "train, infer, nms (the NMS methods alone), or dcn (deformable against plain convolution).")
  var mode: Mode = .infer

  @Option(
    help: ArgumentHelp(
      "fp32, bf16 autocast (convolutions and matrix products in bfloat16, weights in float32), or int8 (inference: the convolutions and linear layers in FBGEMM's INT8 kernels, with model.quantize's settings or its defaults; ranges from --weights, or observed on the benchmark's own images first)."))
  var precision: Precision = .fp32

  @Option(help: "Input height and width in pixels.")
  var size = 512

  @Option(help: "Images per iteration.")
  var batch = 2

  @Option(help: "Timed iterations.")
  var iters = 5

  @Option(help: "Untimed iterations first (Mask R-CNN-like heads need ~10 for the RoI count to settle).")
  var warmup = 2

  @Option(help: "libtorch intra-op threads.")
  var threads = 2

  @Option(help: "Score threshold of the box head (0 makes post-processing handle the full detections).")
  var scoreThreshold = 0.0

  @Option(help: "nms mode: boxes per call, in clusters of 20 overlapping boxes.")
  var boxes = 1000

  @Flag(help: "Print one JSON object instead of a table.")
  var json = false

  @Option(
    help: ArgumentHelp(
      "After timing, profile one more iteration with libtorch's profiler: write its Chrome trace here and print the operators taking the most time to stderr.",
      valueName: "trace.json"))
  var profile: String?

  func validate() throws {
    guard precision != .int8 || mode == .infer else { throw ValidationError("--precision int8 goes with --mode infer") }
    guard preset == nil || (config == nil && overrides.isEmpty) else {
      throw ValidationError("give either --preset or --config/--set, not both")
    }
    guard size >= 32, batch >= 1, iters >= 1, warmup >= 0, threads >= 1, (1...1_000_000).contains(boxes) else {
      throw ValidationError(
        "size must be at least 32, batch, iters and threads at least 1, warmup at least 0, boxes between 1 and 1000000")
    }
  }

  func run() throws {
    try Torch.checkVersion()
    Torch.threadCount = threads
    if mode == .nms {
      let report = NMSBenchmark(boxes: boxes, iterations: iters, warmup: warmup).run()
      print(json ? try report.json() : report.table)
      return
    }
    if mode == .dcn {
      let report = DeformConvBenchmark(size: size, batch: batch, iterations: iters, warmup: warmup).run()
      print(json ? try report.json() : report.table)
      return
    }
    // Before the model exists, so that its weights count too.
    TensorMemory.startCounting()
    var config: ModelSection
    var testNMS: NMSMethod?
    let name: String
    if self.config != nil || !overrides.isEmpty {
      do {
        let loaded = try SimpleDetConfig.load(file: self.config, overrides: overrides)
        config = loaded.model
        testNMS = loaded.test.nms
      } catch let error as ConfigError {
        throw fail(error)
      }
      name = self.config.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "defaults"
    } else {
      let preset = preset ?? .fasterrcnnResnet50Fpn
      config = preset.configuration
      name = preset.rawValue
    }
    config.transform.fixedSize = true
    if precision == .int8, config.detector.quantize == nil { config.detector.quantize = QuantizationConfiguration() }
    let model = config.detector.makeDetector()
    model.inference.scoreThreshold = scoreThreshold
    model.inference.nms = testNMS
    if let weights {
      do {
        try model.loadWeights(contentsOf: URL(fileURLWithPath: weights))
      } catch {
        throw fail(error)
      }
    }
    let g = Generator(seed: 42)
    let images = (0..<batch).map { _ in Tensor.rand([3, size, size], generator: g) }
    let targets = (0..<batch).map { _ in
      randomTargets(imageSize: size, classes: config.classes, withMasks: model.hasMasks, generator: g)
    }
    let optimizer = SGD(
      groups: ParameterGroup.standard(for: model, learningRate: 0.001, weightDecay: 1e-4), momentum: 0.9)

    func iteration() {
      if precision == .bf16 {
        withAutocast(.bfloat16) { step() }
      } else {
        step()
      }
    }

    func step() {
      switch mode {
      case .infer, .nms, .dcn:
        _ = model.detect(images)
      case .train:
        let losses = model.losses(images, targets: targets)
        let total = losses.values.dropFirst().reduce(losses.values.first!) { $0 + $1 }
        optimizer.zeroGradients()
        OperationTimer.shared.measure("backward") { total.backward() }
        OperationTimer.shared.measure("optimizer") { optimizer.step() }
      }
    }

    mode == .train ? model.train() : model.eval()
    if precision == .int8 {
      if !model.useInt8Kernels().isEmpty {
        // No learned ranges: observe them on the benchmark's images (untimed).
        model.setFakeQuantizersCalibrating(true)
        _ = model.detect(images)
        model.setFakeQuantizersCalibrating(false)
        model.useInt8Kernels()
      }
    }
    for _ in 0..<warmup { iteration() }
    // The peak over the timed iterations, from what is held between them (weights, optimizer
    // state, inputs).
    TensorMemory.resetPeak()
    OperationTimer.shared.start()
    let clock = ContinuousClock()
    var seconds: [Double] = []
    for _ in 0..<iters {
      let start = clock.now
      iteration()
      let elapsed = clock.now - start
      seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }
    let operations = OperationTimer.shared.stop()
    let peakTensorBytes = TensorMemory.peakBytes
    let total = seconds.reduce(0, +)
    let perIteration = seconds.sorted()[seconds.count / 2]
    let report = BenchmarkReport(
      preset: name, mode: mode.rawValue, precision: precision.rawValue, size: size, batch: batch, threads: threads,
      images_per_sec: Double(batch) / perIteration, sec_per_iter: perIteration, peak_rss_mb: peakResidentMegabytes(),
      peak_tensor_mb: Double(peakTensorBytes) / 1_048_576,
      share_nms: (operations["nms"] ?? 0) / total, share_roi_align: (operations["roi_align"] ?? 0) / total,
      share_matching: (operations["matching"] ?? 0) / total)
    if ProcessInfo.processInfo.environment["SIMPLEDET_PROFILE"] != nil {
      for (name, value) in operations.sorted(by: { $0.key < $1.key }) {
        let padded = name.padding(toLength: 12, withPad: " ", startingAt: 0)
        FileHandle.standardError.write(Data("\(padded) \(String(format: "%.3f", value / Double(iters))) s/iter\n".utf8))
      }
    }
    if let profile {
      let (_, operators) = try OperatorProfile.record(tracePath: profile) { iteration() }
      printProfile(operators, iterationSeconds: perIteration)
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else {
      print(report.table)
    }
  }

  /// The operators with the most self time in the profiled iteration, to stderr.
  private func printProfile(_ profile: OperatorProfile, iterationSeconds: Double) {
    var lines = ["operator                                   calls   self s  share  total s"]
    for entry in profile.entries.prefix(25) {
      let name = entry.name.count > 40 ? String(entry.name.prefix(39)) + "…" : entry.name
      lines.append(
        name.padding(toLength: 41, withPad: " ", startingAt: 0)
          + String(
            format: " %6d %8.3f %5.1f%% %8.3f", entry.calls, entry.selfSeconds, 100 * entry.selfSeconds / iterationSeconds,
            entry.totalSeconds))
    }
    let inside = profile.entries.reduce(0) { $0 + $1.selfSeconds }
    lines.append(String(format: "all operators: %.3f s of a %.3f s iteration (median of the timed ones)", inside, iterationSeconds))
    FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
  }

  /// A few random valid boxes, and for mask models each box's filled rectangle as its mask.
  private func randomTargets(imageSize: Int, classes: Int, withMasks: Bool, generator: Generator) -> Instances {
    let count = 4
    let corner = Tensor.rand([count, 2], generator: generator) * Double(imageSize) * 0.6
    let extent = Tensor.rand([count, 2], generator: generator) * Double(imageSize) * 0.3 + 16
    let boxes = Tensor.concatenate([corner, (corner + extent).clamped(max: Double(imageSize))], axis: 1)
    let labels = Tensor.randint(1..<classes, shape: [count], generator: generator)
    var fields = ["boxes": boxes, "labels": labels]
    if withMasks {
      let masks = Tensor.zeros([count, imageSize, imageSize], dtype: .uint8)
      let b = boxes.toArray(Float.self).map { Int($0) }
      for i in 0..<count {
        masks[i, b[4 * i + 1] ..< max(b[4 * i + 3], b[4 * i + 1] + 1), b[4 * i] ..< max(b[4 * i + 2], b[4 * i] + 1)] =
          Tensor(scalar: UInt8(1))
      }
      fields["masks"] = masks
    }
    return Instances(imageSize: (imageSize, imageSize), fields: fields)
  }
}

/// The figures `simpledet benchmark` reports; the snake_case keys are a contract for scripts.
struct BenchmarkReport: Encodable {
  var preset: String
  var mode: String
  var precision: String
  var size: Int
  var batch: Int
  var threads: Int
  var images_per_sec: Double
  var sec_per_iter: Double
  var peak_rss_mb: Double
  /// The most bytes held by tensors at once during the timed iterations (`TensorMemory`).
  var peak_tensor_mb: Double
  var share_nms: Double
  var share_roi_align: Double
  var share_matching: Double

  var table: String {
    """
    \(preset) \(mode) \(size)x\(size) batch \(batch), \(precision), \(threads) threads
      images/s        \(String(format: "%.3f", images_per_sec))
      s/iteration     \(String(format: "%.3f", sec_per_iter)) (median)
      peak tensors    \(String(format: "%.0f", peak_tensor_mb)) MB (the most held by tensors at once during the timed iterations)
      peak RSS        \(String(format: "%.0f", peak_rss_mb)) MB (the process's largest resident set)
      NMS             \(String(format: "%.1f", share_nms * 100))% of the time
      RoIAlign        \(String(format: "%.1f", share_roi_align * 100))%
      anchor matching \(String(format: "%.1f", share_matching * 100))%
    """
  }
}

/// The largest resident set of this process so far, in MB.
func peakResidentMegabytes() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  return Double(usage.ru_maxrss) / 1024  // Linux reports kilobytes
}

/// Detector architectures the command line can build without a config file.
enum DetectorPreset: String, ExpressibleByArgument, CaseIterable {
  case fasterrcnnResnet50Fpn = "fasterrcnn_resnet50_fpn"
  case fasterrcnnResnet50FpnV2 = "fasterrcnn_resnet50_fpn_v2"
  case maskrcnnResnet50Fpn = "maskrcnn_resnet50_fpn"
  case maskrcnnResnet50FpnV2 = "maskrcnn_resnet50_fpn_v2"
  case retinanetResnet50Fpn = "retinanet_resnet50_fpn"
  case retinanetResnet50FpnV2 = "retinanet_resnet50_fpn_v2"
  case fcosResnet50Fpn = "fcos_resnet50_fpn"

  var configuration: ModelSection {
    switch self {
    case .fasterrcnnResnet50Fpn: ModelSection(.torchvisionFasterRCNN())
    case .fasterrcnnResnet50FpnV2: ModelSection(.torchvisionFasterRCNNv2())
    case .maskrcnnResnet50Fpn: ModelSection(.torchvisionMaskRCNN())
    case .maskrcnnResnet50FpnV2: ModelSection(.torchvisionMaskRCNNv2())
    case .retinanetResnet50Fpn: ModelSection(.torchvisionRetinaNet())
    case .retinanetResnet50FpnV2: ModelSection(.torchvisionRetinaNetv2())
    case .fcosResnet50Fpn: ModelSection(.torchvisionFCOS())
    }
  }
}
