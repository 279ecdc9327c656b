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

  /// Evaluation computes what FBGEMM's int8 kernels compute, bit for bit: integer sums
  /// requantized as FBGEMM does. Training's forward (fake quantization in float32) gives the
  /// same values but where its rounded sums fall on the other side of a half step: about one
  /// output in 10⁵, so the layers are large enough (some 10⁵ outputs) for that to happen.
  @Test(arguments: ActivationQuantization.allCases, [false, true])
  func evaluationComputesWhatTheInt8KernelsCompute(activation: ActivationQuantization, linear: Bool) throws {
    let layer: any UnaryLayer & Module =
      linear
      ? Linear(2304, 256, generator: Generator(seed: 3)) : Conv2d(128, 64, kernelSize: 3, padding: 1, generator: Generator(seed: 3))
    layer.enableFakeQuantization(FakeQuantization(activation: activation), convolutions: true, linearLayers: true)
    let quantizer = try #require(layer.fakeQuantizers.first)
    let x = linear ? Tensor.randn([512, 2304], generator: Generator(seed: 4)) : Tensor.randn([2, 128, 48, 48], generator: Generator(seed: 4))
    #expect(layer.useInt8Kernels() == ["fake_quantizer"], "no ranges yet")
    _ = layer(x * 1.2)
    _ = layer(x)
    layer.eval()
    let evaluated = layer(x)
    #expect(layer.useInt8Kernels().isEmpty)
    let int8 = layer(x)
    #expect(quantizer.kernel != nil, "the int8 kernel should have run")
    #expect(int8.shape == evaluated.shape && int8.dtype == .float32)
    #expect(int8.isEqual(to: evaluated), "largest difference \((int8 - evaluated).abs().max().doubleValue())")
    layer.useInt8Kernels(false)
    #expect(layer(x).isEqual(to: evaluated))
    #expect(withAutocast { layer(x) }.isEqual(to: evaluated), "the integer arithmetic ignores autocast")

    // Training's arithmetic, fake quantization in float32, with the same ranges: its rounded
    // sums put a few outputs on the other side of a half step.
    let floatSums: Tensor
    if let linear = layer as? Linear {
      floatSums = Functional.linear(quantizer.input(x), weight: quantizer.weight(linear.weight), bias: linear.bias)
    } else {
      let conv = try #require(layer as? Conv2d)
      floatSums = Functional.conv2d(quantizer.input(x), weight: quantizer.weight(conv.weight), bias: conv.bias, padding: (1, 1))
    }
    let step = quantizer.integerOutput().scale
    let error = (quantizer.output(floatSums) - evaluated).abs()
    #expect(error.max().doubleValue() <= 1.001 * step, "largest error \(error.max().doubleValue()), step \(step)")
    let differing = (error .> 0.01 * step).to(.float32).mean().doubleValue()
    #expect(differing <= 0.001, "\(differing * 100)% of the outputs differ")
  }

  /// The integer arithmetic by hand for a 1×1 convolution of two channels: codes, exact sums,
  /// FBGEMM's float32 requantization, dequantized.
  @Test func integerArithmeticByHand() throws {
    let conv = Conv2d(2, 1, kernelSize: 1)
    withNoGrad {
      conv.weight.copy(from: Tensor([Float(0.5), -0.2], shape: [1, 2, 1, 1]))
      conv.bias!.copy(from: Tensor([Float(0.1)], shape: [1]))
    }
    conv.enableFakeQuantization(FakeQuantization(), convolutions: true, linearLayers: false)
    let quantizer = try #require(conv.fakeQuantizer)
    withNoGrad {
      quantizer.inputRange.copy(from: Tensor([Float(0), 2.55], shape: [2]))
      quantizer.outputRange.copy(from: Tensor([Float(-1), 1.55], shape: [2]))
      quantizer.observedBatches += 1
    }
    conv.eval()
    // Channel 0 holds [1.0, 0.4], channel 1 [2.0, 3.0].
    let x = Tensor([Float(1.0), 0.4, 2.0, 3.0], shape: [1, 2, 1, 2])
    let y = conv(x).toArray(Float.self)
    // Input scale 2.55/255 (0.01), zero point 0: codes 100, 40 and 200, 255 (3.0 clamps). Weight
    // scale 0.5/127: codes 127 and −51. Sums 127·100 − 51·200 = 2500 and 127·40 − 51·255 = −7925.
    let inputScale = Float(quantizer.integerInput().scale)
    let weightScale = quantizer.weightScales(conv.weight).toArray(Float.self)[0]
    let output = quantizer.integerOutput()
    #expect(output.zeroPoint == 100)
    let outputScale = Float(output.scale)
    let accumulationScale = inputScale * weightScale
    let multiplier = accumulationScale / outputScale
    let expected = [Float(2500), -7925].map { sum -> Float in
      let code = min(max(((sum + Float(0.1) / accumulationScale) * multiplier).rounded(.toNearestOrEven) + 100, 0), 255)
      return (code - 100) * outputScale
    }
    #expect(y == expected, "\(y) vs \(expected)")
    // 1.0·0.5 − 2.0·0.2 + 0.1 = 0.2 and 0.4·0.5 − 2.55·0.2 + 0.1 = −0.21, on the output's grid.
    #expect(abs(y[0] - 0.2) < 1e-6 && abs(y[1] + 0.21) < 1e-6, "\(y)")
  }
}

extension FakeQuantizer {
  /// The input as `input(_:)` quantizes it in evaluation, from the current range.
  static func reference(_ quantizer: FakeQuantizer, _ x: Tensor) -> Tensor {
    let (scale, zeroPoint) = quantizer.inputQuantization()
    return Functional.fakeQuantize(x, scale: scale, zeroPoint: zeroPoint, range: quantizer.settings.activation.range)
  }
}
