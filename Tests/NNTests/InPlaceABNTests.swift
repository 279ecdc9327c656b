import Testing
@testable import NN
@testable import Torch

/// In-place activated batch norm against the unfused pair (batch norm with |γ| + ε, then leaky
/// ReLU, or nothing): outputs, the gradients of input, weight and bias (weights near zero
/// included, which the ε on |γ| keeps invertible), running statistics, and evaluation.
/// Also: the fused CPU kernels on both layouts and on float64 and bfloat16, the output written
/// over an intermediate input (and never over a leaf), and the memory a stack of layers keeps.
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

  /// The layer's computation by hand, in the input's type, for float64 and bfloat16 inputs.
  func reference(_ x: Tensor, weight: Tensor, bias: Tensor, slope: Double) -> Tensor {
    let mean = x.mean(axes: [0, 2, 3], keepingDimensions: true)
    let centred = x - mean
    let variance = (centred * centred).mean(axes: [0, 2, 3], keepingDimensions: true)
    let scale = weight.reshaped([1, -1, 1, 1]) * (variance + 1e-5).rsqrt()
    return (centred * scale + bias.reshaped([1, -1, 1, 1])).leakyRelu(negativeSlope: slope)
  }

  static func relativeDifference(_ a: Tensor, _ b: Tensor) -> Double {
    let a = a.to(.float64), b = b.to(.float64)
    return (a - b).abs().max().doubleValue() / Swift.max(b.abs().max().doubleValue(), 1e-12)
  }

  /// An input that is an intermediate of the graph (as a convolution's output is) is overwritten
  /// by the output, on either layout, and its gradient is still batch norm's.
  @Test(arguments: [false, true])
  func overwritesAnIntermediateInput(channelsLast: Bool) {
    let (fused, batchNorm) = layers(slope: 0.01)
    func leaf() -> Tensor {
      let x = Tensor.randn([3, 6, 7, 5], generator: Generator(seed: 5)) * 2 + 0.5
      return (channelsLast ? x.channelsLast() : x).requiringGrad()
    }
    let x1 = leaf()
    let x2 = leaf()
    let intermediate = x1 * 1.0
    #expect(channelsLast ? intermediate.isChannelsLast : intermediate.isContiguous)
    let z = fused(intermediate)
    #expect(z.sharesStorage(with: intermediate))
    #expect(!z.sharesStorage(with: x1))
    #expect(channelsLast ? z.isChannelsLast : z.isContiguous)
    let expected = batchNorm(x2 * 1.0).leakyRelu(negativeSlope: 0.01)
    #expect(Self.relativeDifference(z, expected) < 1e-5)
    let upstream = Tensor.randn(z.shape, generator: Generator(seed: 6))
    (z * upstream).sum().backward()
    (expected * upstream).sum().backward()
    #expect(Self.relativeDifference(x1.grad!, x2.grad!) < 1e-4)
    #expect(Self.relativeDifference(fused.bias.grad!, batchNorm.bias!.grad!) < 1e-4)
    // Channels 0, 1, 4, 5 (away from the near-zero scales, see above).
    let weightGrad = fused.weight.grad!.toArray(Float.self)
    let expectedGrad = (batchNorm.weight!.grad! * fused.weight.sign()).toArray(Float.self)
    let largest = expectedGrad.map(abs).max()!
    for c in [0, 1, 4, 5] { #expect(abs(weightGrad[c] - expectedGrad[c]) <= 1e-4 * largest) }
  }

  /// A leaf (user data, or anything made without recording) is never overwritten.
  @Test(arguments: [false, true])
  func leavesALeafInputAlone(requiresGrad: Bool) {
    let (fused, _) = layers(slope: 0.01)
    var x = Tensor.randn([2, 6, 4, 4], generator: Generator(seed: 7))
    if requiresGrad { x = x.requiringGrad() }
    let before = x.clone()
    let z = fused(x)
    #expect(!z.sharesStorage(with: x))
    #expect((x.detached() - before.detached()).abs().max().doubleValue() == 0)
  }

  /// float64 runs the kernels in double throughout; bfloat16 keeps its output in bfloat16 and
  /// computes in float32, so it is compared with float32 arithmetic on the same values, with
  /// scales away from zero (the output's bf16 rounding, divided by a scale near zero to recover
  /// the normalised input, would dominate the weight's gradient there, as it does in any
  /// reduced-precision InPlace-ABN).
  @Test(arguments: [(DType.float64, false), (.float64, true), (.bfloat16, false), (.bfloat16, true)])
  func otherPrecisions(dtype: DType, channelsLast: Bool) {
    let fused = InPlaceABN(features: 6, slope: 0.1)
    let gamma = Tensor(dtype == .float64 ? [Float(1.5), -0.7, 1e-4, -3e-4, 0.9, 2] : [Float(1.5), -0.7, 0.8, -1.2, 0.9, 2])
    let beta = Tensor([Float(0.1), -0.2, 0.3, 0, -0.5, 0.05])
    withNoGrad {
      fused.weight.copy(from: gamma)
      fused.bias.copy(from: beta)
    }
    let values = Tensor.randn([3, 6, 6, 5], generator: Generator(seed: 8)) * 2 + 0.5
    let laidOut = channelsLast ? values.channelsLast() : values
    let x1 = laidOut.to(dtype).requiringGrad()
    // The reference reads the same (rounded) values in float64.
    let x2 = x1.detached().to(.float64).requiringGrad()
    let weight = fused.scale.detached().to(.float64).requiringGrad()
    let bias = beta.to(.float64).requiringGrad()
    let z = fused(x1 * 1.0)
    #expect(z.dtype == dtype)
    let expected = reference(x2, weight: weight, bias: bias, slope: 0.1)
    let exact = dtype == .float64
    #expect(Self.relativeDifference(z, expected) < (exact ? 1e-12 : 1e-2))
    let upstream = Tensor.randn(z.shape, generator: Generator(seed: 9)).to(dtype).to(.float64)
    (z.to(.float64) * upstream).sum().backward()
    (expected * upstream).sum().backward()
    #expect(Self.relativeDifference(x1.grad!, x2.grad!) < (exact ? 1e-9 : 3e-2), "input")
    #expect(Self.relativeDifference(fused.bias.grad!, bias.grad!) < (exact ? 1e-6 : 1e-2), "bias")
    let weightGrad = fused.weight.grad!, expectedGrad = weight.grad! * fused.weight.sign().to(.float64)
    // float64's near-zero scales (channels 2 and 3) divide the output's rounding by ~1e-4.
    #expect(Self.relativeDifference(weightGrad, expectedGrad) < (exact ? 1e-6 : 3e-2), "weight")
  }

  /// A stack of convolutions each followed by the fused layer keeps one activation per layer
  /// where batch norm and a leaky ReLU keep three (the convolution's output, the norm's and the
  /// activation's); with backward's few transients, four layers peak at 8 activations against
  /// 14 (57%, counted on this thread only, so other tests running beside it do not count).
  @Test func keepsLessMemoryThanBatchNormThenLeakyReLU() {
    func peak(fusedNorm: Bool) -> Int {
      let convs = (0..<4).map { _ in Conv2d(16, 16, kernelSize: 3, padding: 1, bias: false) }
      let norms: [any UnaryLayer] = (0..<4).map { _ -> any UnaryLayer in
        fusedNorm ? InPlaceABN(features: 16) as any UnaryLayer : BatchNorm2d(16) as any UnaryLayer
      }
      let x = Tensor.randn([2, 16, 64, 64], generator: Generator(seed: 10))
      return TensorMemory.peakBytesOnThisThread {
        var h = x
        for (conv, norm) in zip(convs, norms) {
          h = fusedNorm ? norm(conv(h)) : norm(conv(h)).leakyRelu(negativeSlope: 0.01)
        }
        h.sum().backward()
      }
    }
    let unfused = peak(fusedNorm: false)
    let fused = peak(fusedNorm: true)
    let activation = 2 * 16 * 64 * 64 * 4
    #expect(unfused >= 12 * activation, "batch norm + leaky ReLU: \(unfused) bytes")
    #expect(Double(fused) < 0.65 * Double(unfused), "fused \(fused) bytes against \(unfused)")
  }

  @Test func namesAreBatchNorms() {
    #expect(Set(InPlaceABN(features: 3).stateDict().keys) == Set(BatchNorm2d(3).stateDict().keys))
  }
}
