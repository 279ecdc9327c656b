import Testing
@testable import NN
@testable import Torch

/// In-place activated batch norm against the unfused pair (batch norm with |γ| + ε, then leaky
/// ReLU, or nothing): outputs, the gradients of input, weight and bias (weights near zero
/// included, which the ε on |γ| keeps invertible), running statistics, and evaluation.
@Suite struct InPlaceABNTests {
  func input() -> Tensor {
    (Tensor.randn([4, 6, 5, 5], generator: Generator(seed: 1)) * 2 + 0.5).channelsLast().requiringGrad()
  }

  func layers(slope: Double?) -> (InPlaceABN, BatchNorm2d) {
    let fused = InPlaceABN(features: 6, slope: slope)
    let reference = BatchNorm2d(6)
    let weight = Tensor([Float(1.5), -0.7, 1e-4, -3e-4, 0.9, 2])
    let bias = Tensor([Float(0.1), -0.2, 0.3, 0, -0.5, 0.05])
    withNoGrad {
      fused.weight.copy(from: weight)
      fused.bias.copy(from: bias)
      reference.weight!.copy(from: weight.abs() + 1e-5)
      reference.bias!.copy(from: bias)
    }
    return (fused, reference)
  }

  @Test(arguments: [0.01, 0.2, nil] as [Double?])
  func matchesBatchNormThenLeakyReLU(slope: Double?) {
    let (fused, reference) = layers(slope: slope)
    let x1 = input()
    let x2 = input()
    let z = fused(x1)
    let y = reference(x2)
    let expected = slope.map { y.leakyRelu(negativeSlope: $0) } ?? y
    #expect((z - expected).abs().max().doubleValue() < 1e-5)
    let upstream = Tensor.randn(z.shape, generator: Generator(seed: 2))
    (z * upstream).sum().backward()
    (expected * upstream).sum().backward()
    func close(_ a: Tensor, _ b: Tensor, _ what: String) {
      let difference = (a - b).abs().max().doubleValue() / Swift.max(b.abs().max().doubleValue(), 1e-12)
      #expect(difference < 1e-4, "\(what): \(difference)")
    }
    close(x1.grad!, x2.grad!, "input")
    close(fused.bias.grad!, reference.bias!.grad!, "bias")
    // The fused layer's weight is γ (applied as |γ| + ε); the reference's is |γ| + ε itself. The
    // normalised input is recovered by dividing by |γ| + ε: for the two scales near zero (~1e-4)
    // that multiplies float32 rounding by ~1e4, which the ε keeps bounded.
    let weightGrad = fused.weight.grad!.toArray(Float.self)
    let expectedGrad = (reference.weight!.grad! * fused.weight.sign()).toArray(Float.self)
    let largest = expectedGrad.map(abs).max()!
    for c in 0..<6 {
      let tolerance: Float = [2, 3].contains(c) ? 2e-3 : 1e-4
      #expect(abs(weightGrad[c] - expectedGrad[c]) <= tolerance * largest, "weight \(c): \(weightGrad[c]) against \(expectedGrad[c])")
    }
    #expect((fused.runningMean - reference.runningMean!).abs().max().doubleValue() < 1e-6)
    #expect((fused.runningVar - reference.runningVar!).abs().max().doubleValue() < 1e-5)
    #expect(fused.numBatchesTracked.intValue() == 1)

    fused.eval()
    reference.eval()
    let x = Tensor.randn([2, 6, 3, 3], generator: Generator(seed: 3))
    let evaluated = reference(x)
    #expect((fused(x) - (slope.map { evaluated.leakyRelu(negativeSlope: $0) } ?? evaluated)).abs().max().doubleValue() < 1e-5)
  }

  @Test func namesAreBatchNorms() {
    #expect(Set(InPlaceABN(features: 3).stateDict().keys) == Set(BatchNorm2d(3).stateDict().keys))
  }
}
