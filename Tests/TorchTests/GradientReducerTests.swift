import Dispatch
import Foundation
import Testing

@testable import Torch

/// c10d's Reducer through `GradientReducer`: two ranks in one process (a thread each, over
/// 127.0.0.1) average their gradients, with a parameter one of them does not use, and with the
/// buckets sent as float16 or bfloat16.
@Suite(.serialized) struct GradientReducerTests {
  struct RankResult: Sendable {
    var used: [Float]
    var unused: [Float]?
    var bytes: Int
    var hidden: Double
  }

  /// Rank r's loss is sum(w · x_r) + (on rank 0 only) sum(u · x_r): w gets x_r from each rank,
  /// u only from rank 0. Two steps, to see the Reducer ready for the next one.
  static func runRank(rank: Int, port: Int, wire: DType?) throws -> RankResult {
    let group = try ProcessGroup(
      masterAddress: "127.0.0.1", masterPort: port, rank: rank, size: 2, localAddress: "127.0.0.1",
      timeout: .seconds(30))
    let w = Tensor.zeros([1000]).requiringGrad()
    let u = Tensor.zeros([10]).requiringGrad()
    let reducer = try GradientReducer(group: group, parameters: [w, u], bucketBytes: 1 << 20, wireType: wire)
    var result = RankResult(used: [], unused: nil, bytes: 0, hidden: 0)
    for step in 0..<2 {
      try reducer.prepareForForward()
      let x = Tensor((0..<1000).map { Float($0 % 7 + rank * 3 + step) / 8 })
      var loss = (w * x).sum()
      if rank == 0 { loss = loss + (u * x.sliced(axis: 0, 0..<10)).sum() }
      try reducer.prepareForBackward([loss])
      try withTorchErrors { loss.backward() }
      result = RankResult(
        used: w.grad!.toArray(Float.self), unused: u.grad?.toArray(Float.self), bytes: reducer.lastBackward.bytes,
        hidden: reducer.lastBackward.hiddenShare)
      w.grad = nil
      u.grad = nil
    }
    try group.barrier()
    return result
  }

  final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Result<RankResult, any Error>] = [:]
    func set(_ rank: Int, _ value: Result<RankResult, any Error>) { lock.withLock { values[rank] = value } }
    func get(_ rank: Int) -> Result<RankResult, any Error>? { lock.withLock { values[rank] } }
  }

  static func run(wire: DType?) throws -> [RankResult] {
    let port = try ProcessGroup.freeLoopbackPort()
    let results = Results()
    let done = DispatchSemaphore(value: 0)
    for rank in 0..<2 {
      let thread = Thread {
        results.set(rank, Result { try runRank(rank: rank, port: port, wire: wire) })
        done.signal()
      }
      thread.stackSize = 8 << 20
      thread.start()
    }
    for _ in 0..<2 where done.wait(timeout: .now() + 120) == .timedOut {
      throw TorchError(operation: "test", message: "the ranks did not finish within 120 s")
    }
    return try (0..<2).map { rank in try #require(results.get(rank)).get() }
  }

  @Test(arguments: [nil, DType.float16, .bfloat16])
  func ranksEndWithTheMeanGradientEvenForAParameterOneOfThemSkips(wire: DType?) throws {
    let results = try Self.run(wire: wire)
    // The second step: x_r = (i % 7 + 3r + 1) / 8, so the mean over the ranks is (i % 7 + 2.5) / 8.
    let expected = (0..<1000).map { Float($0 % 7) / 8 + 2.5 / 8 }
    let tolerance: Float = wire == .bfloat16 ? 1e-2 : wire == .float16 ? 1e-3 : 1e-6
    for result in results {
      let error = zip(result.used, expected).map { abs($0 - $1) }.max() ?? .infinity
      #expect(error <= tolerance, "largest error \(error)")
      // u: rank 0's gradient x_0[0..<10] averaged with rank 1's none (zero).
      let unused = try #require(result.unused)
      let half = (0..<10).map { Float($0 % 7 + 1) / 16 }
      #expect(zip(unused, half).allSatisfy { abs($0 - $1) <= tolerance }, "\(unused)")
      // Bytes sent: 1010 parameters in 4 or 2 bytes each.
      #expect(result.bytes == 1010 * (wire == nil ? 4 : 2))
      #expect((0...1).contains(result.hidden))
    }
    #expect(results[0].used == results[1].used)
  }
}
