import Dispatch
import Foundation
import Testing

@testable import NN
@testable import Torch

/// Cross-process batch norm against `BatchNorm2d`: alone it is batch norm; two ranks in one
/// process (two threads, each in its own c10d group over 127.0.0.1) holding parts of a batch
/// match batch norm on the concatenated batch. The same for SyncIABN (`InPlaceABN` given a
/// group) against batch norm followed by the leaky ReLU, through both fused kernels (NCHW and
/// channels-last).
///
/// The gradient convention checked (PyTorch's SyncBatchNorm with DDP; see
/// `Functional.syncBatchNorm`): each rank r has the loss L_r, the mean over its own images as
/// the trainer's; data-parallel training descends L = (L_0 + L_1) / 2, averaging parameter
/// gradients over the ranks. The reference is batch norm on the concatenated batch with that L.
/// Then each rank's input gradient is 2 ∂L/∂(its input) (the gradient of L_0 + L_1), and the
/// rank average of every parameter gradient, a convolution's before the norm and the norm's
/// weight and bias, is ∂L/∂(parameter).
@Suite struct SyncBatchNormTests {
  static let channels = 3

  /// Relative difference of two arrays, against the larger magnitude of the reference.
  static func difference(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count else { return .infinity }
    guard !a.isEmpty else { return 0 }
    let largest = Double(b.map(abs).max()!)
    let worst = zip(a, b).map { Double(abs($0 - $1)) }.max()!
    return worst / Swift.max(largest, 1e-12)
  }

  // MARK: One process

  func sameWeights(_ sync: SyncBatchNorm2d, _ plain: BatchNorm2d) {
    withNoGrad {
      let weight = Tensor([Float(1.5), -0.7, 0.9])
      let bias = Tensor([Float(0.1), -0.2, 0.3])
      sync.weight!.copy(from: weight)
      sync.bias!.copy(from: bias)
      plain.weight!.copy(from: weight)
      plain.bias!.copy(from: bias)
    }
  }

  @Test func withoutAGroupItIsBatchNorm() {
    let sync = SyncBatchNorm2d(Self.channels)
    #expect(sync.group == nil)
    let plain = BatchNorm2d(Self.channels)
    sameWeights(sync, plain)
    let values = (Tensor.randn([4, 3, 5, 4], generator: Generator(seed: 1)) * 2 + 0.5).toArray(Float.self)
    let x1 = Tensor(values, shape: [4, 3, 5, 4]).requiringGrad()
    let x2 = Tensor(values, shape: [4, 3, 5, 4]).requiringGrad()
    let y1 = sync(x1)
    let y2 = plain(x2)
    #expect(y1.toArray(Float.self) == y2.toArray(Float.self))
    let upstream = Tensor.randn([4, 3, 5, 4], generator: Generator(seed: 2))
    (y1 * upstream).mean().backward()
    (y2 * upstream).mean().backward()
    #expect(x1.grad!.toArray(Float.self) == x2.grad!.toArray(Float.self))
    #expect(sync.weight!.grad!.toArray(Float.self) == plain.weight!.grad!.toArray(Float.self))
    #expect(sync.bias!.grad!.toArray(Float.self) == plain.bias!.grad!.toArray(Float.self))
    #expect(sync.runningMean!.toArray(Float.self) == plain.runningMean!.toArray(Float.self))
    #expect(sync.runningVar!.toArray(Float.self) == plain.runningVar!.toArray(Float.self))
    #expect(sync.numBatchesTracked!.intValue() == 1)

    // A checkpointed segment's second run leaves the statistics alone.
    let before = sync.runningMean!.toArray(Float.self)
    _ = Checkpoint.$isRecomputing.withValue(true) { sync(x1.detached()) }
    #expect(sync.runningMean!.toArray(Float.self) == before)
    #expect(sync.numBatchesTracked!.intValue() == 1)

    sync.eval()
    plain.eval()
    let x = Tensor.randn([2, 3, 3, 3], generator: Generator(seed: 3))
    #expect(sync(x).toArray(Float.self) == plain(x).toArray(Float.self))
  }

  @Test func namesAndCheckpointsAreBatchNorms() throws {
    let plain = BatchNorm2d(Self.channels)
    withNoGrad { plain.runningMean!.copy(from: Tensor([Float(1), 2, 3])) }
    let sync = SyncBatchNorm2d(Self.channels)
    #expect(Set(sync.stateDict().keys) == Set(plain.stateDict().keys))
    _ = try sync.load(stateDict: plain.stateDict())
    #expect(sync.runningMean!.toArray(Float.self) == [1, 2, 3])
    // Outside a supplier's scope layers are single-process; inside, they take its group (nil
    // here: a supplier may decline).
    let supplied = SyncBatchNorm2d.$processGroup.withValue(nil) { SyncBatchNorm2d(2) }
    #expect(supplied.group == nil)
  }

  // MARK: Two ranks

  /// What one rank is given, as plain values (tensors do not cross threads).
  struct RankInput: Sendable {
    var kind: Kind
    var rank: Int
    var port: Int
    var images: [Float]
    var count: Int
    var kernel: [Float]
    var upstream: [Float]
    var weight: [Float]
    var bias: [Float]
    var evaluationInput: [Float]
  }

  struct RankOutput: Sendable {
    var output: [Float]
    var inputGradient: [Float]
    var kernelGradient: [Float]
    var weightGradient: [Float]
    var biasGradient: [Float]
    var runningMean: [Float]
    var runningVar: [Float]
    var batchesTracked: Int
    var evaluated: [Float]
  }

  static let height = 5
  static let width = 4

  enum Kind: String, Sendable, CaseIterable {
    case syncBatchNorm = "SyncBN"
    case syncInPlaceABN = "SyncIABN"
    case syncInPlaceABNChannelsLast = "SyncIABN channels-last"
  }
  static let slope = 0.01

  /// The norm a rank runs, seen through the parts the test reads.
  struct Norm {
    var layer: any UnaryLayer
    var module: Module
    var weight: Tensor
    var bias: Tensor
    var runningMean: Tensor
    var runningVar: Tensor
    var batchesTracked: Tensor

    init(_ kind: Kind, group: ProcessGroup) {
      if kind == .syncBatchNorm {
        let norm = SyncBatchNorm2d.$processGroup.withValue(group) { SyncBatchNorm2d(channels) }
        (layer, module, weight, bias) = (norm, norm, norm.weight!, norm.bias!)
        (runningMean, runningVar, batchesTracked) = (norm.runningMean!, norm.runningVar!, norm.numBatchesTracked!)
      } else {
        let norm = InPlaceABN(features: channels, slope: slope, group: group)
        (layer, module, weight, bias) = (norm, norm, norm.weight, norm.bias)
        (runningMean, runningVar, batchesTracked) = (norm.runningMean, norm.runningVar, norm.numBatchesTracked)
      }
    }
  }

  /// One rank: a 1×1 convolution then SyncBN, forward and backward of its loss (the mean over
  /// its images, or the plain sum where it has none), then one evaluation forward.
  static func runRank(_ input: RankInput) throws -> RankOutput {
    let group = try ProcessGroup(
      masterAddress: "127.0.0.1", masterPort: input.port, rank: input.rank, size: 2, localAddress: "127.0.0.1",
      timeout: .seconds(30))
    let result = try withTorchErrors { () -> RankOutput in
      let norm = Norm(input.kind, group: group)
      withNoGrad {
        norm.weight.copy(from: Tensor(input.weight))
        norm.bias.copy(from: Tensor(input.bias))
      }
      let shape = [input.count, channels, height, width]
      var images = Tensor(input.images, shape: shape)
      if input.kind == .syncInPlaceABNChannelsLast { images = images.channelsLast() }
      images = images.requiringGrad()
      let kernel = Tensor(input.kernel, shape: [channels, channels, 1, 1]).requiringGrad()
      let y = norm.layer(Functional.conv2d(images, weight: kernel))
      let weighted = y * Tensor(input.upstream, shape: shape)
      let loss = input.count > 0 ? weighted.mean() : weighted.sum()
      loss.backward()
      norm.module.eval()
      let evaluated = norm.layer(Tensor(input.evaluationInput, shape: [2, channels, height, width]))
      return RankOutput(
        output: y.contiguous().toArray(Float.self), inputGradient: images.grad?.contiguous().toArray(Float.self) ?? [],
        kernelGradient: kernel.grad!.toArray(Float.self), weightGradient: norm.weight.grad!.toArray(Float.self),
        biasGradient: norm.bias.grad!.toArray(Float.self), runningMean: norm.runningMean.toArray(Float.self),
        runningVar: norm.runningVar.toArray(Float.self), batchesTracked: norm.batchesTracked.intValue(),
        evaluated: evaluated.toArray(Float.self))
    }
    try group.barrier()
    return result
  }



  final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<RankOutput, any Error>] = [:]

    func set(_ rank: Int, _ result: Result<RankOutput, any Error>) { lock.withLock { results[rank] = result } }
    func get(_ rank: Int) -> Result<RankOutput, any Error>? { lock.withLock { results[rank] } }
  }

  /// Runs the ranks on threads of their own; nil (with the issue recorded) if they do not all
  /// finish in time. The groups' own timeout (30 s) ends a rank whose peer failed, so the
  /// threads end too; the wait here bounds the test even if they did not.
  static func run(_ inputs: [RankInput]) -> [RankOutput]? {
    let outcomes = Outcomes()
    let done = DispatchSemaphore(value: 0)
    for input in inputs {
      let thread = Thread {
        outcomes.set(input.rank, Result { try runRank(input) })
        done.signal()
      }
      thread.stackSize = 8 << 20
      thread.start()
    }
    for _ in inputs where done.wait(timeout: .now() + 120) == .timedOut {
      Issue.record("the ranks did not finish within 120 s")
      return nil
    }
    var outputs: [RankOutput] = []
    for input in inputs {
      switch outcomes.get(input.rank) {
      case .success(let output)?: outputs.append(output)
      case .failure(let error)?:
        Issue.record("rank \(input.rank): \(error)")
        return nil
      case nil:
        Issue.record("rank \(input.rank) left no result")
        return nil
      }
    }
    return outputs
  }

  @Test(arguments: [[2, 2], [3, 1], [4, 0]], Kind.allCases)
  func twoRanksMatchBatchNormOnTheWholeBatch(counts: [Int], kind: Kind) throws {
    let total = counts.reduce(0, +)
    let c = Self.channels
    let (h, w) = (Self.height, Self.width)
    let images = Tensor.randn([total, c, h, w], generator: Generator(seed: 11)) * 2 + 0.5
    let upstream = Tensor.randn([total, c, h, w], generator: Generator(seed: 12))
    let kernel = Tensor.randn([c, c, 1, 1], generator: Generator(seed: 13))
    let evaluationInput = Tensor.randn([2, c, h, w], generator: Generator(seed: 14))
    // IABN's scale is |γ| + ε: positive weights, and the reference's are those plus ε.
    let inPlace = kind != .syncBatchNorm
    let weight: [Float] = inPlace ? [1.5, 0.7, 0.9] : [1.5, -0.7, 0.9]
    let bias: [Float] = [0.1, -0.2, 0.3]
    let starts = [0, counts[0]]

    // The reference: batch norm (and the leaky ReLU) on the concatenated batch, loss (L_0 + L_1) / 2.
    let norm = BatchNorm2d(c)
    withNoGrad {
      norm.weight!.copy(from: Tensor(weight.map { inPlace ? $0 + 1e-5 : $0 }))
      norm.bias!.copy(from: Tensor(bias))
    }
    let activation = { (x: Tensor) in inPlace ? x.leakyRelu(negativeSlope: Self.slope) : x }
    let referenceImages = images.detached().requiringGrad()
    let referenceKernel = kernel.detached().requiringGrad()
    let y = activation(norm(Functional.conv2d(referenceImages, weight: referenceKernel)))
    let weighted = y * upstream
    let parts = (0..<2).map { r -> Tensor in
      let part = weighted.sliced(axis: 0, starts[r]..<(starts[r] + counts[r]))
      return counts[r] > 0 ? part.mean() : part.sum()
    }
    ((parts[0] + parts[1]) / 2).backward()
    norm.eval()
    let referenceEvaluated = activation(norm(evaluationInput)).toArray(Float.self)

    let port = try ProcessGroup.freeLoopbackPort()
    let inputs = (0..<2).map { r in
      let rows = starts[r]..<(starts[r] + counts[r])
      return RankInput(
        kind: kind, rank: r, port: port, images: images.sliced(axis: 0, rows).toArray(Float.self), count: counts[r],
        kernel: kernel.toArray(Float.self), upstream: upstream.sliced(axis: 0, rows).toArray(Float.self), weight: weight,
        bias: bias, evaluationInput: evaluationInput.toArray(Float.self))
    }
    let outputs = try #require(Self.run(inputs))

    let tolerance = 1e-5
    func check(_ a: [Float], _ b: [Float], _ what: String) {
      let d = Self.difference(a, b)
      #expect(d < tolerance, "\(kind.rawValue) \(counts) \(what): relative difference \(d)")
    }
    for r in 0..<2 {
      let rows = starts[r]..<(starts[r] + counts[r])
      check(outputs[r].output, y.sliced(axis: 0, rows).toArray(Float.self), "rank \(r) output")
      // Each rank's input gradient is that of L_0 + L_1 = 2 L.
      let expectedInputGradient = (referenceImages.grad!.sliced(axis: 0, rows) * 2).toArray(Float.self)
      check(outputs[r].inputGradient, expectedInputGradient, "rank \(r) input gradient")
      check(outputs[r].runningMean, norm.runningMean!.toArray(Float.self), "rank \(r) running mean")
      check(outputs[r].runningVar, norm.runningVar!.toArray(Float.self), "rank \(r) running variance")
      #expect(outputs[r].batchesTracked == 1)
      check(outputs[r].evaluated, referenceEvaluated, "rank \(r) evaluation")
    }
    // Parameter gradients: the ranks' average (what the gradient reducer makes) is ∂L/∂θ.
    func averaged(_ field: KeyPath<RankOutput, [Float]>) -> [Float] {
      zip(outputs[0][keyPath: field], outputs[1][keyPath: field]).map { ($0 + $1) / 2 }
    }
    check(averaged(\.kernelGradient), referenceKernel.grad!.toArray(Float.self), "averaged convolution gradient")
    check(averaged(\.weightGradient), norm.weight!.grad!.toArray(Float.self), "averaged weight gradient")
    check(averaged(\.biasGradient), norm.bias!.grad!.toArray(Float.self), "averaged bias gradient")
  }
}
