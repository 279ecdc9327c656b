import Foundation
import Testing

@testable import Torch

/// Sampling with explicit generators, so results do not depend on what else runs at the same time.
/// The global generator is checked by `GlobalSeedTests` below, in a process of its own.
@Suite struct RandomTests {
  @Test func sameSeedSameNumbers() {
    let a = Tensor.randn([50], generator: Generator(seed: 42))
    let b = Tensor.randn([50], generator: Generator(seed: 42))
    let c = Tensor.randn([50], generator: Generator(seed: 43))
    #expect(a.isEqual(to: b))
    #expect(!a.isEqual(to: c))
    #expect(Tensor.rand([3, 4], generator: Generator(seed: 1)).isEqual(to: Tensor.rand([3, 4], generator: Generator(seed: 1))))
    #expect(
      Tensor.randint(0..<100, shape: [20], generator: Generator(seed: 9))
        .isEqual(to: Tensor.randint(0..<100, shape: [20], generator: Generator(seed: 9))))
  }

  /// The CPU generator is PyTorch's mt19937, so a seed gives the numbers Python users know from
  /// `torch.manual_seed(0); torch.rand(5)` and `torch.randn(5)`.
  @Test func matchesPyTorchsSequenceForSeedZero() {
    expectValues(
      Tensor.rand([5], generator: Generator(seed: 0)), [0.4963, 0.7682, 0.0885, 0.1320, 0.3074], tolerance: 1e-4)
    expectValues(
      Tensor.randn([5], generator: Generator(seed: 0)), [1.5410, -0.2934, -2.1788, 0.5684, -1.0845], tolerance: 1e-4)
  }

  @Test func stateSaveAndRestoreReproducesTheSequence() throws {
    let g = Generator(seed: 7)
    _ = Tensor.rand([10], generator: g)
    let state = g.state
    #expect(!state.isEmpty)
    let first = Tensor.randn([20], generator: g)
    let further = Tensor.rand([5], generator: g)
    try g.restore(state: state)
    #expect(Tensor.randn([20], generator: g).isEqual(to: first))
    #expect(Tensor.rand([5], generator: g).isEqual(to: further))
    // The state can move to another generator.
    let other = Generator(seed: 999)
    try other.restore(state: state)
    #expect(Tensor.randn([20], generator: other).isEqual(to: first))
    // Garbage is refused with a clear error rather than a crash, even outside withTorchErrors.
    let error = try #require(throws: TorchError.self) { try g.restore(state: [1, 2, 3]) }
    #expect(error.operation == "Generator.restore")
    #expect(!error.message.isEmpty)
  }

  @Test func reseedRestartsTheSequence() {
    let g = Generator(seed: 3)
    let a = Tensor.rand([8], generator: g)
    _ = Tensor.rand([8], generator: g)
    g.reseed(3)
    #expect(Tensor.rand([8], generator: g).isEqual(to: a))
  }

  @Test func distributionsHaveTheRightRangeAndMoments() {
    let g = Generator(seed: 11)
    let u = Tensor.rand([20000], dtype: .float64, generator: g)
    #expect(u.dtype == .float64)
    #expect(u.min().doubleValue() >= 0)
    #expect(u.max().doubleValue() < 1)
    #expect(Swift.abs(u.mean().doubleValue() - 0.5) < 0.01)
    #expect(Swift.abs(u.variance().doubleValue() - 1.0 / 12) < 0.005)

    let n = Tensor.randn([20000], generator: g)
    #expect(n.dtype == .float32)
    #expect(Swift.abs(n.mean().doubleValue()) < 0.03)
    #expect(Swift.abs(n.standardDeviation().doubleValue() - 1) < 0.03)

    let i = Tensor.randint(-3..<4, shape: [5000], generator: g)
    #expect(i.dtype == .int64)
    let values = Set(i.toArray(Int.self))
    #expect(values == Set(-3..<4))
    #expect(Tensor.randint(0..<5, shape: [2, 2], dtype: .int32, generator: g).dtype == .int32)

    let b = Tensor.bernoulli([20000], probability: 0.2, generator: g)
    #expect(Set(b.toArray(Float.self)).isSubset(of: [0, 1]))
    #expect(Swift.abs(b.mean().doubleValue() - 0.2) < 0.015)
  }

  @Test func permutationsAndMultinomial() {
    let p = Tensor.randperm(50, generator: Generator(seed: 2))
    #expect(p.dtype == .int64)
    let values = p.toArray(Int.self)
    #expect(values.sorted() == Array(0..<50))
    #expect(values != Array(0..<50))
    #expect(p.isEqual(to: Tensor.randperm(50, generator: Generator(seed: 2))))

    let g = Generator(seed: 4)
    // Only the non-zero weights can be drawn.
    let weights = Tensor([0, 0, 1, 0] as [Float])
    #expect(weights.multinomial(count: 5, replacement: true, generator: g).toArray(Int.self) == [2, 2, 2, 2, 2])
    // Without replacement every index appears once.
    let draws = Tensor([1, 2, 3, 4] as [Float]).multinomial(count: 4, generator: g).toArray(Int.self)
    #expect(draws.sorted() == [0, 1, 2, 3])
    // Frequencies follow the weights.
    let many = Tensor([1, 3] as [Float]).multinomial(count: 8000, replacement: true, generator: g)
    #expect(Swift.abs(many.to(.float32).mean().doubleValue() - 0.75) < 0.02)
  }

  @Test func inPlaceFills() {
    let a = Tensor.zeros([1000], dtype: .float64)
    a.fillUniform(-2...3, generator: Generator(seed: 8))
    #expect(a.min().doubleValue() >= -2)
    #expect(a.max().doubleValue() < 3)
    #expect(Swift.abs(a.mean().doubleValue() - 0.5) < 0.15)
    let b = Tensor.zeros([1000], dtype: .float64)
    b.fillUniform(-2...3, generator: Generator(seed: 8))
    #expect(a.isEqual(to: b))

    let n = Tensor.zeros([5000])
    n.fillNormal(mean: 10, std: 2, generator: Generator(seed: 8))
    #expect(Swift.abs(n.mean().doubleValue() - 10) < 0.1)
    #expect(Swift.abs(n.standardDeviation().doubleValue() - 2) < 0.1)

    // Filling a parameter is not recorded by autograd.
    let w = Tensor.zeros([3]).requiringGrad()
    w.fillNormal(generator: Generator(seed: 1))
    #expect(w.isLeaf)
    #expect(w.grad == nil)
  }
}

/// The global generator is process-wide state that other tests (layers built without a generator,
/// say) draw from concurrently, so these checks run in a process of their own.
@Suite(.serialized) struct GlobalSeedTests {
  @Test func manualSeedReproducesTheGlobalSequence() async {
    await #expect(processExitsWith: .success) {
      manualSeed(123)
      let a = Tensor.randn([10])
      let b = Tensor.rand([4])
      manualSeed(123)
      precondition(Tensor.randn([10]).isEqual(to: a), "randn differs after reseeding")
      precondition(Tensor.rand([4]).isEqual(to: b), "rand differs after reseeding")
      // The global generator and a generator with the same seed give the same numbers.
      manualSeed(0)
      precondition(Tensor.rand([6]).isEqual(to: Tensor.rand([6], generator: Generator(seed: 0))))
      // A different seed gives different numbers.
      manualSeed(124)
      precondition(!Tensor.randn([10]).isEqual(to: a), "seeds 123 and 124 agree")
    }
  }
}
