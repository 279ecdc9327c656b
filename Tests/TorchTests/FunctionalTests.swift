import Foundation
import Testing

@testable import Torch

/// Convolutions, pooling, resizing, normalisation and dropout against hand-worked numbers and
/// plain-Swift reference loops.
@Suite struct FunctionalTests {
  // MARK: Convolution

  @Test func conv2dByHand() {
    let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9] as [Float], shape: [1, 1, 3, 3])
    let w = Tensor.ones([1, 1, 2, 2])
    expectValues(Functional.conv2d(x, weight: w), [12, 16, 24, 28], shape: [1, 1, 2, 2])
    // Zero padding 1 gives 2x2 window sums over the padded 5x5 image, then the bias.
    expectValues(
      Functional.conv2d(x, weight: w, bias: Tensor([-10] as [Float]), padding: (1, 1)),
      [-9, -7, -5, -7, -5, 2, 6, -1, 1, 14, 18, 5, -3, 5, 7, -1], shape: [1, 1, 4, 4])
    expectValues(Functional.conv2d(x, weight: w, stride: (2, 2), padding: (1, 1)), [1, 5, 11, 28], shape: [1, 1, 2, 2])
    // Dilation 2 spreads the 2x2 kernel over the four corners.
    expectValues(Functional.conv2d(x, weight: w, dilation: (2, 2)), [1 + 3 + 7 + 9], shape: [1, 1, 1, 1])
    // Groups 2 with 1x1 kernels scale each channel on its own.
    let two = Tensor.concatenate([x, x * 10], axis: 1)
    let perChannel = Tensor([1, -1] as [Float], shape: [2, 1, 1, 1])
    let grouped = Functional.conv2d(two, weight: perChannel, groups: 2)
    #expect(grouped.shape == [1, 2, 3, 3])
    expectValues(grouped, (1...9).map(Double.init) + (1...9).map { -10 * Double($0) })
  }

  static let convConfigs: [Conv2dConfig] = [
    Conv2dConfig(),
    Conv2dConfig(stride: (2, 1), padding: (1, 2)),
    Conv2dConfig(kernel: (3, 3), padding: (2, 2), dilation: (2, 3)),
    Conv2dConfig(inputChannels: 4, outputChannels: 6, groups: 2),
    Conv2dConfig(inputChannels: 4, outputChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 4),
    Conv2dConfig(kernel: (2, 2), stride: (1, 2), dilation: (2, 1), groups: 2, bias: false),
  ]

  @Test(arguments: convConfigs)
  func conv2dMatchesReferenceLoops(_ c: Conv2dConfig) {
    let xShape = [c.batch, c.inputChannels, c.height, c.width]
    let wShape = [c.outputChannels, c.inputChannels / c.groups, c.kernel.0, c.kernel.1]
    let x = sample(xShape.reduce(1, *), seed: 1)
    let w = sample(wShape.reduce(1, *), seed: 2)
    let bias = c.bias ? sample(c.outputChannels, seed: 3) : nil
    let expected = referenceConv2d(
      x: x, xShape: xShape, weight: w, wShape: wShape, bias: bias, stride: c.stride, padding: c.padding,
      dilation: c.dilation, groups: c.groups)
    let y = Functional.conv2d(
      Tensor(x, shape: xShape).to(.float32), weight: Tensor(w, shape: wShape).to(.float32),
      bias: bias.map { Tensor($0).to(.float32) }, stride: c.stride, padding: c.padding, dilation: c.dilation,
      groups: c.groups)
    #expect(y.dtype == .float32)
    expectValues(y, expected.values, shape: expected.shape, tolerance: 1e-4)
    // float64 agrees to rounding.
    let y64 = Functional.conv2d(
      Tensor(x, shape: xShape), weight: Tensor(w, shape: wShape), bias: bias.map { Tensor($0) }, stride: c.stride,
      padding: c.padding, dilation: c.dilation, groups: c.groups)
    expectValues(y64, expected.values, shape: expected.shape, tolerance: 1e-12)
  }

  @Test func convTranspose2dByHand() {
    let x = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2])
    let w = Tensor.ones([1, 1, 2, 2])
    expectValues(Functional.convTranspose2d(x, weight: w), [1, 3, 2, 4, 10, 6, 3, 7, 4], shape: [1, 1, 3, 3])
    // Stride 2 places each pixel's kernel copy without overlap.
    let k = Tensor([1, 10, 100, 1000] as [Float], shape: [1, 1, 2, 2])
    expectValues(
      Functional.convTranspose2d(x, weight: k, stride: (2, 2)),
      [1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000], shape: [1, 1, 4, 4])
    #expect(Functional.convTranspose2d(x, weight: k, stride: (2, 2), outputPadding: (1, 0)).shape == [1, 1, 5, 4])
  }

  static let transposeConfigs: [Conv2dConfig] = [
    Conv2dConfig(height: 4, width: 3),
    Conv2dConfig(height: 4, width: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1), outputPadding: (1, 0)),
    Conv2dConfig(height: 3, width: 4, stride: (2, 3), dilation: (2, 1), groups: 2),
    Conv2dConfig(inputChannels: 4, outputChannels: 4, height: 3, width: 3, kernel: (2, 2), groups: 4, bias: false),
  ]

  @Test(arguments: transposeConfigs)
  func convTranspose2dMatchesReferenceLoops(_ c: Conv2dConfig) {
    let xShape = [c.batch, c.inputChannels, c.height, c.width]
    let wShape = [c.inputChannels, c.outputChannels / c.groups, c.kernel.0, c.kernel.1]
    let x = sample(xShape.reduce(1, *), seed: 4)
    let w = sample(wShape.reduce(1, *), seed: 5)
    let bias = c.bias ? sample(c.outputChannels, seed: 6) : nil
    let expected = referenceConvTranspose2d(
      x: x, xShape: xShape, weight: w, wShape: wShape, bias: bias, stride: c.stride, padding: c.padding,
      outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups)
    let y = Functional.convTranspose2d(
      Tensor(x, shape: xShape), weight: Tensor(w, shape: wShape), bias: bias.map { Tensor($0) }, stride: c.stride,
      padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups)
    expectValues(y, expected.values, shape: expected.shape, tolerance: 1e-12)
  }

  // MARK: Pooling

  @Test func maxPoolByHand() {
    let x = Tensor.arange(16, dtype: .float32).reshaped([1, 1, 4, 4])
    expectValues(Functional.maxPool2d(x, kernelSize: (2, 2)), [5, 7, 13, 15], shape: [1, 1, 2, 2])
    expectValues(Functional.maxPool2d(x, kernelSize: (3, 3), stride: (1, 1)), [10, 11, 14, 15], shape: [1, 1, 2, 2])
    // Padding never wins (it is -infinity), so negative inputs survive.
    let n = -x - 1
    expectValues(Functional.maxPool2d(n, kernelSize: (2, 2), padding: (1, 1)), [-1, -2, -4, -5, -6, -8, -13, -14, -16], shape: [1, 1, 3, 3])
    // ceil mode keeps the partial window at the end.
    let odd = Tensor.arange(25, dtype: .float32).reshaped([1, 1, 5, 5])
    #expect(Functional.maxPool2d(odd, kernelSize: (2, 2)).shape == [1, 1, 2, 2])
    expectValues(Functional.maxPool2d(odd, kernelSize: (2, 2), ceilMode: true), [6, 8, 9, 16, 18, 19, 21, 23, 24], shape: [1, 1, 3, 3])
    // Dilation 2 samples every other pixel: the 2x2 window at (0, 0) sees 0, 2, 10, 12.
    expectValues(Functional.maxPool2d(odd, kernelSize: (2, 2), stride: (1, 1), dilation: (2, 2)), [12, 13, 14, 17, 18, 19, 22, 23, 24], shape: [1, 1, 3, 3])
  }

  @Test func poolingMatchesReferenceLoops() {
    let shape = [2, 3, 7, 6]
    let values = sample(shape.reduce(1, *), seed: 7)
    let x = Tensor(values, shape: shape)
    for (kernel, stride, padding) in [((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (0, 1)), ((3, 2), (3, 2), (0, 0))] {
      let max = referencePool(x: values, xShape: shape, kernel: kernel, stride: stride, padding: padding, max: true)
      expectValues(Functional.maxPool2d(x, kernelSize: kernel, stride: stride, padding: padding), max.values, shape: max.shape)
      let avg = referencePool(x: values, xShape: shape, kernel: kernel, stride: stride, padding: padding, max: false)
      expectValues(Functional.avgPool2d(x, kernelSize: kernel, stride: stride, padding: padding), avg.values, shape: avg.shape)
      let avgInside = referencePool(
        x: values, xShape: shape, kernel: kernel, stride: stride, padding: padding, max: false, countPadding: false)
      expectValues(
        Functional.avgPool2d(x, kernelSize: kernel, stride: stride, padding: padding, countIncludePad: false),
        avgInside.values, shape: avgInside.shape)
    }
  }

  @Test func avgPoolByHand() {
    let x = Tensor.arange(16, dtype: .float32).reshaped([1, 1, 4, 4])
    expectValues(Functional.avgPool2d(x, kernelSize: (2, 2)), [2.5, 4.5, 10.5, 12.5], shape: [1, 1, 2, 2])
    // With padding 1 the 2x2 windows at stride 2 cover one real pixel at each corner and two along
    // the edges; the padding counts as zeros in the average unless told otherwise.
    let padded = Functional.avgPool2d(x, kernelSize: (2, 2), padding: (1, 1))
    expectValues(padded, [0 / 4.0, (1 + 2) / 4.0, 3 / 4.0, (4 + 8) / 4.0, (5 + 6 + 9 + 10) / 4.0, (7 + 11) / 4.0, 12 / 4.0, (13 + 14) / 4.0, 15 / 4.0], shape: [1, 1, 3, 3])
    let inside = Functional.avgPool2d(x, kernelSize: (2, 2), padding: (1, 1), countIncludePad: false)
    expectValues(inside, [0, 1.5, 3, 6, 7.5, 9, 12, 13.5, 15])
  }

  @Test func adaptivePooling() {
    // 5 -> 3 uses windows [floor(i*5/3), ceil((i+1)*5/3)) = [0, 2), [1, 4), [3, 5): they overlap.
    let x = Tensor.arange(25, dtype: .float64).reshaped([1, 1, 5, 5])
    let windows = [0..<2, 1..<4, 3..<5]
    var avg = [Double]()
    var max = [Double]()
    for rows in windows {
      for cols in windows {
        let cells = rows.flatMap { r in cols.map { c in Double(r * 5 + c) } }
        avg.append(cells.reduce(0, +) / Double(cells.count))
        max.append(cells.max()!)
      }
    }
    expectValues(Functional.adaptiveAvgPool2d(x, outputSize: (3, 3)), avg, shape: [1, 1, 3, 3])
    expectValues(Functional.adaptiveMaxPool2d(x, outputSize: (3, 3)), max, shape: [1, 1, 3, 3])
    // Global pooling.
    expectValues(Functional.adaptiveAvgPool2d(x, outputSize: (1, 1)), [12], shape: [1, 1, 1, 1])
    expectValues(Functional.adaptiveMaxPool2d(x, outputSize: (1, 1)), [24], shape: [1, 1, 1, 1])
    // Non-square: 5 rows -> 2 ([0, 3), [2, 5)), 5 columns -> 1.
    expectValues(Functional.adaptiveAvgPool2d(x, outputSize: (2, 1)), [7, 17], shape: [1, 1, 2, 1])
  }

  // MARK: Interpolation

  @Test func nearestByHand() {
    let x = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2])
    expectValues(
      Functional.interpolate(x, size: (4, 4)), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], shape: [1, 1, 4, 4])
    expectValues(Functional.interpolate(x, scale: (2, 1)), [1, 2, 1, 2, 3, 4, 3, 4], shape: [1, 1, 4, 2])
    // 2 -> 3 takes source floor(dst * 2/3): 0, 0, 1.
    expectValues(Functional.interpolate(x, size: (2, 3)), [1, 1, 2, 3, 3, 4], shape: [1, 1, 2, 3])
    // nearest-exact takes floor((dst + 0.5) * 2/3): 0, 1, 1.
    expectValues(Functional.interpolate(x, size: (2, 3), mode: .nearestExact), [1, 2, 2, 3, 4, 4])
    // Downsampling 4 -> 2 keeps pixels 0 and 2.
    let big = Tensor.arange(16, dtype: .float32).reshaped([1, 1, 4, 4])
    expectValues(Functional.interpolate(big, size: (2, 2)), [0, 2, 8, 10])
  }

  @Test func bilinearByHand() {
    let x = Tensor([0, 4] as [Float], shape: [1, 1, 1, 2])
    // Half-pixel centres: destination 0..3 maps to source -0.25 (clamped to 0), 0.25, 0.75, 1.25.
    expectValues(Functional.interpolate(x, size: (1, 4), mode: .bilinear), [0, 1, 3, 4], shape: [1, 1, 1, 4])
    // With aligned corners destination 0..3 maps to 0, 1/3, 2/3, 1.
    expectValues(
      Functional.interpolate(x, size: (1, 4), mode: .bilinear, alignCorners: true), [0, 4.0 / 3, 8.0 / 3, 4])
  }

  @Test(arguments: [false, true])
  func bilinearMatchesReferenceLoops(alignCorners: Bool) {
    let shape = [2, 2, 3, 5]
    let values = sample(shape.reduce(1, *), seed: 8)
    let x = Tensor(values, shape: shape)
    for size in [(6, 10), (5, 4), (2, 2), (7, 13)] {
      let expected = referenceBilinear(x: values, xShape: shape, size: size, alignCorners: alignCorners)
      expectValues(
        Functional.interpolate(x, size: size, mode: .bilinear, alignCorners: alignCorners), expected,
        shape: [2, 2, size.0, size.1], tolerance: 1e-12)
    }
    // A scale factor is used for the source coordinates as given.
    let scaled = referenceBilinear(
      x: values, xShape: shape, size: (7, 12), alignCorners: alignCorners, scale: (2.5, 2.5))
    expectValues(
      Functional.interpolate(x, scale: (2.5, 2.5), mode: .bilinear, alignCorners: alignCorners), scaled,
      shape: [2, 2, 7, 12], tolerance: 1e-12)
  }

  // MARK: Normalisation

  @Test func batchNormTrainingAndEvaluation() {
    // Channel 0 holds 1, 2, 3, 4 and channel 1 holds 10, 20, 30, 40 (over a batch of 2 and 2 pixels).
    let x = Tensor([1, 2, 10, 20, 3, 4, 30, 40] as [Double], shape: [2, 2, 1, 2])
    let runningMean = Tensor([0, 0] as [Double])
    let runningVariance = Tensor([1, 1] as [Double])
    let weight = Tensor([2, 1] as [Double])
    let bias = Tensor([0, 5] as [Double])
    let eps = 1e-5
    let y = Functional.batchNorm(
      x, runningMean: runningMean, runningVariance: runningVariance, weight: weight, bias: bias, training: true,
      momentum: 0.1, epsilon: eps)
    // Normalised with the biased batch variance (1.25 and 125).
    let s0 = Foundation.sqrt(1.25 + eps)
    let s1 = Foundation.sqrt(125 + eps)
    let expected: [Double] = [
      2 * (1 - 2.5) / s0, 2 * (2 - 2.5) / s0, (10 - 25) / s1 + 5, (20 - 25) / s1 + 5,
      2 * (3 - 2.5) / s0, 2 * (4 - 2.5) / s0, (30 - 25) / s1 + 5, (40 - 25) / s1 + 5,
    ]
    expectValues(y, expected, shape: [2, 2, 1, 2], tolerance: 1e-10)
    // Running statistics move 10% towards the batch ones, with the unbiased variance (5/3, 500/3).
    expectValues(runningMean, [0.25, 2.5], tolerance: 1e-12)
    expectValues(runningVariance, [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 500 / 3], tolerance: 1e-12)

    let z = Functional.batchNorm(
      x, runningMean: runningMean, runningVariance: runningVariance, weight: weight, bias: bias, training: false,
      epsilon: eps)
    let rm = [0.25, 2.5]
    let rv = [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 500 / 3]
    let w = [2.0, 1]
    let b = [0.0, 5]
    let xs = doubles(x)
    var evaluated = [Double]()
    for (i, v) in xs.enumerated() {
      let c = (i / 2) % 2
      evaluated.append(w[c] * (v - rm[c]) / Foundation.sqrt(rv[c] + eps) + b[c])
    }
    expectValues(z, evaluated, tolerance: 1e-10)
    // Evaluation leaves the running statistics alone.
    expectValues(runningMean, rm, tolerance: 1e-12)

    // Without affine parameters or running statistics it still normalises.
    let plain = Functional.batchNorm(
      x, runningMean: nil, runningVariance: nil, weight: nil, bias: nil, training: true, epsilon: 0)
    expectValues(plain.mean(axes: [0, 2, 3]), [0, 0], tolerance: 1e-10)
  }

  @Test func groupNormMatchesReference() {
    let shape = [2, 6, 2, 3]
    let values = sample(shape.reduce(1, *), seed: 9)
    let weight = sample(6, seed: 10)
    let bias = sample(6, seed: 11)
    let groups = 3
    let eps = 1e-5
    let perGroup = (6 / groups) * 6
    var expected = values
    for n in 0..<2 {
      for g in 0..<groups {
        let start = n * 36 + g * perGroup
        let slice = values[start..<(start + perGroup)]
        let mean = slice.reduce(0, +) / Double(perGroup)
        let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(perGroup)
        for i in start..<(start + perGroup) {
          let c = (i / 6) % 6
          expected[i] = (values[i] - mean) / Foundation.sqrt(variance + eps) * weight[c] + bias[c]
        }
      }
    }
    let y = Functional.groupNorm(
      Tensor(values, shape: shape), groups: groups, weight: Tensor(weight), bias: Tensor(bias), epsilon: eps)
    expectValues(y, expected, shape: shape, tolerance: 1e-10)
  }

  @Test func layerNormMatchesReference() {
    let values: [Double] = [1, 2, 3, 4, 5, 6, -1, 0, 7, 7, 7, 7]
    let x = Tensor(values, shape: [2, 2, 3])
    let eps = 1e-5
    // Normalise over the last two dimensions (six values per row of the batch).
    var expected = [Double]()
    for n in 0..<2 {
      let row = Array(values[(n * 6)..<(n * 6 + 6)])
      let mean = row.reduce(0, +) / 6
      let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
      expected += row.map { ($0 - mean) / Foundation.sqrt(variance + eps) }
    }
    expectValues(Functional.layerNorm(x, normalizedShape: [2, 3], epsilon: eps), expected, tolerance: 1e-10)
    let weight = Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3])
    let bias = Tensor([0.5, 0, 0, 0, 0, -0.5] as [Double], shape: [2, 3])
    let affine = Functional.layerNorm(x, normalizedShape: [2, 3], weight: weight, bias: bias, epsilon: eps)
    let w = doubles(weight)
    let b = doubles(bias)
    expectValues(affine, expected.enumerated().map { i, v in v * w[i % 6] + b[i % 6] }, tolerance: 1e-10)
    // The last dimension only.
    let last = Functional.layerNorm(Tensor([1, 3] as [Double], shape: [1, 2]), normalizedShape: [2], epsilon: 0)
    expectValues(last, [-1, 1])
  }

  // MARK: Dropout

  @Test func dropoutWithSeededGenerator() {
    let x = Tensor.ones([100, 100])
    let a = Functional.dropout(x, probability: 0.3, training: true, generator: Generator(seed: 5))
    let b = Functional.dropout(x, probability: 0.3, training: true, generator: Generator(seed: 5))
    let c = Functional.dropout(x, probability: 0.3, training: true, generator: Generator(seed: 6))
    #expect(a.isEqual(to: b))
    #expect(!a.isEqual(to: c))
    // Every element is either dropped or scaled by 1 / (1 - p).
    let values = a.toArray(Float.self)
    let kept = Float(1) / Float(0.7)
    #expect(values.allSatisfy { $0 == 0 || Swift.abs($0 - kept) < 1e-6 })
    let dropped = Double(values.filter { $0 == 0 }.count) / Double(values.count)
    #expect(Swift.abs(dropped - 0.3) < 0.03)
    // Expected value is kept.
    #expect(Swift.abs(a.mean().doubleValue() - 1) < 0.05)
    // One generator gives a fresh mask each call.
    let g = Generator(seed: 5)
    let first = Functional.dropout(x, probability: 0.3, training: true, generator: g)
    let second = Functional.dropout(x, probability: 0.3, training: true, generator: g)
    #expect(first.isEqual(to: a))
    #expect(!second.isEqual(to: first))
    // Evaluation and p = 0 are the identity.
    #expect(Functional.dropout(x, probability: 0.3, training: false).isEqual(to: x))
    #expect(Functional.dropout(x, probability: 0, training: true).isEqual(to: x))
  }
}
