import Foundation
import Testing

@testable import NN
@testable import Torch

/// Fake quantization against the arithmetic done by hand in Swift: round half to even, clamp,
/// scale back; weights per output channel, inputs per tensor from the observed range.
@Suite struct FakeQuantizationTests {
  /// `(clamp(round(x / scale) + zeroPoint) − zeroPoint) · scale`, and whether x was clamped.
  static func quantized(_ x: Float, scale: Float, zeroPoint: Float, range: ClosedRange<Int>) -> (Float, clamped: Bool) {
    let q = (x / scale).rounded(.toNearestOrEven) + zeroPoint
    let clamped = Swift.min(Swift.max(q, Float(range.lowerBound)), Float(range.upperBound))
    return ((clamped - zeroPoint) * scale, clamped != q)
  }

  static func close(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
  }

  @Test func weightsPerOutputChannel() {
    let values: [Float] = [0.5, -1.0, 0.26, 0.013, 2.0, 0.1, -0.03, 1.37, 0, 0, 0, 0]
    let w = Tensor(values, shape: [3, 4]).requiringGrad()
    let quantizer = FakeQuantizer()
    let y = quantizer.weight(w)
    var expected: [Float] = []
    for row in 0..<3 {
      let channel = Array(values[(4 * row)..<(4 * row + 4)])
      let scale = Swift.max(channel.map(abs).max()! / 127, Float(FakeQuantizer.smallestScale))
      expected += channel.map { Self.quantized($0, scale: scale, zeroPoint: 0, range: -127...127).0 }
    }
    #expect(Self.close(y.toArray(Float.self), expected), "\(y.toArray(Float.self)) vs \(expected)")
    #expect(y.toArray(Float.self)[4] == 2.0, "a channel's largest magnitude is exact")
    #expect(y.toArray(Float.self)[8..<12].allSatisfy { $0 == 0 }, "an all-zero channel stays zero")
    (y * Tensor((0..<12).map(Float.init), shape: [3, 4])).sum().backward()
    #expect(w.grad!.toArray(Float.self) == (0..<12).map(Float.init), "the gradient passes straight through")
  }

  /// The first training batch sets the range; later ones move it by 1 − decay.
  @Test(arguments: ActivationQuantization.allCases, QuantizationGradient.allCases)
  func inputsPerTensor(activation: ActivationQuantization, gradient: QuantizationGradient) {
    let quantizer = FakeQuantizer(FakeQuantization(activation: activation, decay: 0.9, gradient: gradient))
    let first: [Float] = [-0.8, 0.31, 1.7, 0.02, -0.45, 1.1]
    let second: [Float] = [-1.6, 0.7, 3.3, 0.05, -0.2, 2.45]
    _ = quantizer.input(Tensor(first, shape: [2, 3]))
    #expect(Self.close(quantizer.inputRange.toArray(Float.self), [-0.8, 1.7]))
    let x = Tensor(second, shape: [2, 3]).requiringGrad()
    let y = quantizer.input(x)
    let low = 0.9 * Float(-0.8) + 0.1 * Float(-1.6), high = 0.9 * Float(1.7) + 0.1 * Float(3.3)
    #expect(Self.close(quantizer.inputRange.toArray(Float.self), [low, high]))
    #expect(quantizer.observedBatches.intValue() == 2)

    let scale: Float, zeroPoint: Float
    switch activation {
    case .uint8:
      scale = (high - Swift.min(low, 0)) / 255
      zeroPoint = (-Swift.min(low, 0) / scale).rounded(.toNearestOrEven)
    case .int8:
      scale = Swift.max(abs(low), abs(high)) / 127
      zeroPoint = 0
    }
    let expected = second.map { Self.quantized($0, scale: scale, zeroPoint: zeroPoint, range: activation.range) }
    #expect(Self.close(y.toArray(Float.self), expected.map(\.0), 1e-5), "\(y.toArray(Float.self)) vs \(expected.map(\.0))")
    #expect(expected.contains { $0.clamped }, "the test should clamp something")

    y.sum().backward()
    let passes = expected.map { gradient == .straightThrough || !$0.clamped ? Float(1) : 0 }
    #expect(x.grad!.toArray(Float.self) == passes)
  }

  @Test func evaluationUsesTheObservedRangeAndLeavesItAlone() {
    let quantizer = FakeQuantizer()
    let x = Tensor([Float(-0.5), 0.25, 1.0, 0.77], shape: [4])
    quantizer.eval()
    #expect(quantizer.input(x).toArray(Float.self) == x.toArray(Float.self), "no range observed: unquantized")
    #expect(quantizer.observedBatches.intValue() == 0)
    quantizer.train()
    let trained = quantizer.input(x).toArray(Float.self)
    quantizer.eval()
    #expect(quantizer.input(x * 2).toArray(Float.self) != (x * 2).toArray(Float.self))
    #expect(quantizer.input(x).toArray(Float.self) == trained)
    #expect(quantizer.observedBatches.intValue() == 1)
    #expect(Self.close(quantizer.inputRange.toArray(Float.self), [-0.5, 1.0]))
  }

  /// A convolution with a quantizer convolves the fake-quantized input with the fake-quantized
  /// weights and quantizes the result; while not quantizing it only observes. Its state dict
  /// carries the ranges.
  @Test func convolutionQuantizesItsWeightsAndInput() throws {
    let conv = Conv2d(2, 3, kernelSize: 3, padding: 1, generator: Generator(seed: 1))
    let plain = Conv2d(2, 3, kernelSize: 3, padding: 1, generator: Generator(seed: 1))
    conv.enableFakeQuantization(FakeQuantization(), convolutions: true, linearLayers: false)
    let quantizer = try #require(conv.fakeQuantizer)
    #expect(
      Set(conv.stateDict().keys)
        == ["weight", "bias", "fake_quantizer.input_range", "fake_quantizer.output_range", "fake_quantizer.observed_batches"])
    let x = Tensor.randn([1, 2, 5, 5], generator: Generator(seed: 2))

    conv.setFakeQuantizing(false)
    #expect(conv(x).isEqual(to: plain(x)))
    #expect(quantizer.observedBatches.intValue() == 1)

    conv.setFakeQuantizing(true)
    let y = conv(x)
    let accumulated = Functional.conv2d(
      FakeQuantizer.reference(quantizer, x), weight: quantizer.weight(plain.weight), bias: plain.bias, padding: (1, 1))
    let (scale, zeroPoint) = FakeQuantizer.uint8Quantization(quantizer.outputRange)
    let reference = Functional.fakeQuantize(accumulated, scale: scale, zeroPoint: zeroPoint, range: 0...255)
    #expect(y.isEqual(to: reference))
    #expect(!y.isEqual(to: accumulated), "the output is quantized too")
    #expect(!y.isEqual(to: plain(x)))

    // A float checkpoint loads strictly without the quantizer's entries (they keep their
    // state), and a quantized one into a float layer.
    try conv.load(stateDict: plain.stateDict())
    #expect(quantizer.observedBatches.intValue() == 2)
    try plain.load(stateDict: conv.stateDict())
  }

  /// FBGEMM's int8 kernels compute what fake quantization computes (inputs, weights and the
  /// output's uint8 rounding alike): the same values but where the two roundings of the output
  /// fall on either side of a half step, one step apart.
  @Test(arguments: ActivationQuantization.allCases, [false, true])
  func int8KernelsMatchFakeQuantization(activation: ActivationQuantization, linear: Bool) throws {
    let layer: any UnaryLayer & Module =
      linear
      ? Linear(24, 10, generator: Generator(seed: 3)) : Conv2d(8, 16, kernelSize: 3, padding: 1, generator: Generator(seed: 3))
    layer.enableFakeQuantization(FakeQuantization(activation: activation), convolutions: true, linearLayers: true)
    let quantizer = try #require(layer.fakeQuantizers.first)
    let x = linear ? Tensor.randn([6, 24], generator: Generator(seed: 4)) : Tensor.randn([2, 8, 12, 12], generator: Generator(seed: 4))
    #expect(layer.useInt8Kernels() == ["fake_quantizer"], "no ranges yet")
    _ = layer(x * 1.2)
    _ = layer(x)
    layer.eval()
    let fake = layer(x)
    #expect(layer.useInt8Kernels().isEmpty)
    let int8 = layer(x)
    #expect(quantizer.kernel != nil, "the int8 kernel should have run")
    #expect(int8.shape == fake.shape && int8.dtype == .float32)
    let step = quantizer.integerOutput().scale
    let error = (int8 - fake).abs()
    #expect(error.max().doubleValue() <= 1.001 * step, "largest error \(error.max().doubleValue()), step \(step)")
    let differing = (error .> 0.01 * step).to(.float32).mean().doubleValue()
    #expect(differing <= 0.02, "\(differing * 100)% of the outputs differ")
    layer.useInt8Kernels(false)
    #expect(layer(x).isEqual(to: fake))
  }
}

extension FakeQuantizer {
  /// The input as `input(_:)` quantizes it in evaluation, from the current range.
  static func reference(_ quantizer: FakeQuantizer, _ x: Tensor) -> Tensor {
    let (scale, zeroPoint) = quantizer.inputQuantization()
    return Functional.fakeQuantize(x, scale: scale, zeroPoint: zeroPoint, range: quantizer.settings.activation.range)
  }
}
