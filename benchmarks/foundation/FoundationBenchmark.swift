import ArgumentParser
import BenchmarkReference
import Foundation
import NN
import Torch

/// Times SimpleDet's Swift layer (Torch, NN) against the same computation written directly in
/// C++ with libtorch, in one process: conv2d at ResNet-50's shapes and a whole ResNet-50 training
/// step. The two sides alternate round by round and medians are reported, since the machines
/// this runs on are shared and noisy.
@main
struct FoundationBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simpledet-bench-foundation",
    abstract: "Swift (Torch/NN) overhead over direct libtorch: conv2d at ResNet-50 shapes and ResNet-50 fwd+bwd.")

  enum Suite: String, ExpressibleByArgument, CaseIterable, Codable {
    case all, conv, resnet
  }

  @Option(help: "Intra-op threads for libtorch (one global setting shared by both sides).")
  var threads: Int = 2

  @Option(help: "Timed rounds per side for ResNet-50; convolutions use twice as many plus one.")
  var rounds: Int = 5

  @Option(help: "ResNet-50 steps per round.")
  var iters: Int = 3

  @Option(help: "Convolution steps per round (default: enough for about 0.25 s per round).")
  var convIters: Int?

  @Option(help: "Batch size.")
  var batch: Int = 2

  @Option(help: "ResNet-50 input height and width.")
  var size: Int = 224

  @Option(help: "Which part to run: all, conv or resnet.")
  var suite: Suite = .all

  enum Side: String, ExpressibleByArgument, CaseIterable, Codable {
    case both, swift, cpp
  }

  @Option(help: "Run one side only, for profiling (perf, callgrind): both, swift or cpp.")
  var side: Side = .both

  enum Malloc: String, ExpressibleByArgument, CaseIterable, Codable {
    case pinned, glibc
  }

  @Option(
    help: """
      pinned: fix glibc malloc's mmap and trim thresholds so both sides see one allocator regime; \
      glibc: leave glibc's history-dependent defaults (then page faults differ between sides).
      """)
  var malloc: Malloc = .pinned

  @Option(help: "Run only the convolutions whose name contains this text.")
  var filter: String?

  @Flag(
    help: """
      A/A control: put a second C++ reference instance in the Swift slot, so the 'overhead' shows \
      the noise floor (machine, memory placement, order) rather than Swift's cost.
      """)
  var control = false

  @Flag(help: "Tiny sizes and few rounds: a smoke check that finishes in seconds.")
  var quick = false

  @Flag(help: "Print one JSON object instead of the table.")
  var json = false

  func validate() throws {
    guard threads > 0 else { throw ValidationError("--threads must be positive") }
    guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
    guard iters > 0 else { throw ValidationError("--iters must be positive") }
    if let convIters, convIters <= 0 { throw ValidationError("--conv-iters must be positive") }
    guard batch > 0 else { throw ValidationError("--batch must be positive") }
    guard size >= 32 else { throw ValidationError("--size must be at least 32 (ResNet-50 downsamples by 32)") }
  }

  func run() throws {
    if malloc == .pinned { try pinMallocThresholds() }
    try Torch.checkVersion()
    Torch.threadCount = threads
    guard Int(bref_num_threads()) == threads else {
      throw BenchmarkFailure(
        description: "the C++ reference sees \(bref_num_threads()) threads, Swift set \(threads): not one libtorch")
    }
    let resnetSize = quick ? 64 : size
    let resnetRounds = quick ? 3 : rounds
    let resnetIters = quick ? 1 : iters
    let convRounds = quick ? 3 : 2 * rounds + 1

    var report = Report(
      libtorch: Torch.version, threads: threads, batch: batch, quick: quick, malloc: malloc, control: control,
      loadAverageAtStart: loadAverage(), loadAverageAtEnd: [], conv: [], resnet50: nil)
    let log: (String) -> Void = { line in
      if !json { print(line) }
    }
    log("SimpleDet foundation benchmark: Swift (Torch/NN) vs direct libtorch C++, same process, fp32")
    if control { log("A/A CONTROL: the 'swift' columns time a second C++ reference instance") }
    log(
      "libtorch \(report.libtorch), \(threads) threads, batch \(batch), malloc \(malloc.rawValue); load average at start "
        + report.loadAverageAtStart.map { String(format: "%.2f", $0) }.joined(separator: " "))

    if suite != .resnet {
      log("")
      log(Comparison.header(unit: "ms/step"))
      let cases = quick ? ConvCase.quick(batch: batch) : ConvCase.resnet50(batch: batch)
      for (index, c) in cases.enumerated() where filter.map({ c.name.contains($0) }) ?? true {
        let seed = UInt64(100 + index)
        let swiftSide: any Subject = control ? try ReferenceConv(c, seed: seed) : SwiftConv(c, seed: seed)
        let cppSide = try ReferenceConv(c, seed: seed)
        var result = try compare(
          name: "conv " + c.name, swift: swiftSide, cpp: cppSide, warmup: 3, rounds: convRounds,
          iterations: convIters, targetRoundSeconds: quick ? 0.02 : 0.25)
        result.gflopsPerSecondCpp = c.flopsPerStep / result.cppMedian / 1e9
        result.gflopsPerSecondSwift = c.flopsPerStep / result.swiftMedian / 1e9
        log(result.row(scale: 1e3))
        report.conv.append(result)
      }
    }

    if suite != .conv {
      log("")
      let swiftSide = SwiftResNet(batch: batch, size: resnetSize, seed: 7)
      let controlSide = control ? try ReferenceResNet(batch: batch, size: resnetSize, seed: 7) : nil
      let cppSide = try ReferenceResNet(batch: batch, size: resnetSize, seed: 7)
      let swiftParameters = swiftSide.parameters
      let swiftCount = swiftParameters.reduce(0) { $0 + $1.count }
      guard swiftCount == cppSide.parameterCount, swiftParameters.count == cppSide.parameterTensors else {
        throw BenchmarkFailure(
          description:
            "ResNet-50 differs between sides: Swift \(swiftParameters.count) tensors / \(swiftCount) elements, "
            + "C++ \(cppSide.parameterTensors) / \(cppSide.parameterCount)")
      }
      log(
        "ResNet-50 \(batch)x3x\(resnetSize)x\(resnetSize), BatchNorm2d training, cross-entropy, "
          + "\(swiftParameters.count) parameter tensors, \(swiftCount) parameters on each side")
      log(Comparison.header(unit: "s/step"))
      var result = try compare(
        name: "resnet50 fwd+bwd", swift: controlSide ?? swiftSide, cpp: cppSide, warmup: 2, rounds: resnetRounds,
        iterations: resnetIters, targetRoundSeconds: 0)
      result.lossSwift = controlSide?.lastLoss ?? swiftSide.lastLoss?.doubleValue()
      result.lossCpp = cppSide.lastLoss
      log(result.row(scale: 1))
      let lossSwift = result.lossSwift ?? .nan
      let lossCpp = result.lossCpp ?? .nan
      // Both sides draw their weights and data from one seed in the same order, so the losses
      // agree when they compute the same function.
      let verdict = abs(lossSwift - lossCpp) <= 1e-4 * abs(lossCpp) ? "equal: same function, same weights" : "DIFFER"
      log(String(format: "last losses: Swift %.5f, C++ %.5f", lossSwift, lossCpp) + " (\(verdict))")
      report.resnet50 = result
    }

    report.loadAverageAtEnd = loadAverage()
    log("")
    log(
      "load average at end " + report.loadAverageAtEnd.map { String(format: "%.2f", $0) }.joined(separator: " ")
        + "; overhead = (swift - c++) / c++ on the medians; paired = median of per-round ratios")
    if let resnet = report.resnet50, side == .both {
      log(
        String(format: "ResNet-50 step: Swift overhead %+.2f%% (paired %+.2f%%); budget +5%%: ", resnet.overheadPercent,
          resnet.pairedOverheadPercent) + (resnet.overheadPercent <= 5 ? "within" : "OVER"))
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      // A one-sided run (--side) has no medians for the other side.
      encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
  }

  /// Warms both sides up, picks the steps per round when not given, then times `rounds` rounds
  /// of each side, alternating which goes first.
  func compare(
    name: String, swift: any Subject, cpp: any Subject, warmup: Int, rounds: Int, iterations: Int?,
    targetRoundSeconds: Double
  ) throws -> Comparison {
    let runSwift = side != .cpp
    let runCpp = side != .swift
    if runSwift { _ = try swift.run(iterations: warmup) }
    if runCpp { _ = try cpp.run(iterations: warmup) }
    var steps = iterations ?? 1
    if iterations == nil {
      let estimate = max(runSwift ? try swift.run(iterations: 2) : 0, runCpp ? try cpp.run(iterations: 2) : 0)
      steps = min(1000, max(1, Int((targetRoundSeconds / estimate).rounded(.up))))
    }
    var swiftTimes: [Double] = []
    var cppTimes: [Double] = []
    var swiftFaults = 0
    var cppFaults = 0
    func timeSwift() throws {
      let faults = minorPageFaults()
      swiftTimes.append(try swift.run(iterations: steps))
      swiftFaults += minorPageFaults() - faults
    }
    func timeCpp() throws {
      let faults = minorPageFaults()
      cppTimes.append(try cpp.run(iterations: steps))
      cppFaults += minorPageFaults() - faults
    }
    for round in 0..<rounds {
      if round % 2 == 0 {
        if runSwift { try timeSwift() }
        if runCpp { try timeCpp() }
      } else {
        if runCpp { try timeCpp() }
        if runSwift { try timeSwift() }
      }
    }
    var result = Comparison(name: name, iterationsPerRound: steps, swiftSeconds: swiftTimes, cppSeconds: cppTimes)
    result.pageFaultsPerStepSwift = Double(swiftFaults) / Double(max(1, swiftTimes.count * steps))
    result.pageFaultsPerStepCpp = Double(cppFaults) / Double(max(1, cppTimes.count * steps))
    return result
  }
}

/// One case's timings: seconds per step for each round of each side.
struct Comparison: Codable {
  let name: String
  let iterationsPerRound: Int
  let swiftSeconds: [Double]
  let cppSeconds: [Double]
  let swiftMedian: Double
  let cppMedian: Double
  /// `(swift - cpp) / cpp` on the medians, in percent.
  let overheadPercent: Double
  /// The median over rounds of `swift / cpp - 1`, in percent: each round's pair ran back to back.
  let pairedOverheadPercent: Double
  var gflopsPerSecondSwift: Double?
  var gflopsPerSecondCpp: Double?
  var lossSwift: Double?
  var lossCpp: Double?
  /// Minor page faults per step while each side ran (process-wide, so OpenMP workers count too).
  var pageFaultsPerStepSwift: Double = 0
  var pageFaultsPerStepCpp: Double = 0

  init(name: String, iterationsPerRound: Int, swiftSeconds: [Double], cppSeconds: [Double]) {
    self.name = name
    self.iterationsPerRound = iterationsPerRound
    self.swiftSeconds = swiftSeconds
    self.cppSeconds = cppSeconds
    swiftMedian = median(swiftSeconds)
    cppMedian = median(cppSeconds)
    overheadPercent = (swiftMedian - cppMedian) / cppMedian * 100
    pairedOverheadPercent = median(zip(swiftSeconds, cppSeconds).map { ($0 / $1 - 1) * 100 })
  }

  static func header(unit: String) -> String {
    pad("case", 34, right: false) + pad("swift \(unit)", 15) + pad("c++ \(unit)", 15) + pad("overhead", 10)
      + pad("paired", 9) + pad("swift range", 17) + pad("GFLOP/s", 9) + pad("faults/step s|c", 17)
  }

  func row(scale: Double) -> String {
    let range = String(format: "%.4g-%.4g", (swiftSeconds.min() ?? 0) * scale, (swiftSeconds.max() ?? 0) * scale)
    let gflops = gflopsPerSecondCpp.map { String(format: "%.0f", $0) } ?? "-"
    return pad(name, 34, right: false) + pad(String(format: "%.4f", swiftMedian * scale), 15)
      + pad(String(format: "%.4f", cppMedian * scale), 15) + pad(String(format: "%+.2f%%", overheadPercent), 10)
      + pad(String(format: "%+.2f%%", pairedOverheadPercent), 9) + pad(range, 17) + pad(gflops, 9)
      + pad(String(format: "%.0f|%.0f", pageFaultsPerStepSwift, pageFaultsPerStepCpp), 17)
      + "  (\(iterationsPerRound) steps x \(swiftSeconds.count) rounds)"
  }
}

/// `text` padded with spaces to `width` columns, aligned right unless asked otherwise.
func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
  let fill = String(repeating: " ", count: max(0, width - text.count))
  return right ? fill + text : text + fill
}

struct Report: Codable {
  let libtorch: String
  let threads: Int
  let batch: Int
  let quick: Bool
  let malloc: FoundationBenchmark.Malloc
  let control: Bool
  let loadAverageAtStart: [Double]
  var loadAverageAtEnd: [Double]
  var conv: [Comparison]
  var resnet50: Comparison?
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  guard !sorted.isEmpty else { return .nan }
  let mid = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// The 1, 5 and 15 minute load averages (empty where /proc/loadavg is not there).
func loadAverage() -> [Double] {
  guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
  return text.split(separator: " ").prefix(3).compactMap { Double($0) }
}
