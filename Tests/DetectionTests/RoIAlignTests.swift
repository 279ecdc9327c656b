import Foundation
import Testing
@testable import Detection
@testable import Torch

/// RoIAlign written directly from its definition, one output element at a time.
func referenceRoIAlign(
  _ input: [Double], channels: Int, height: Int, width: Int, roi: [Double], pooled: Int, scale: Double,
  sampling: Int, aligned: Bool
) -> [Double] {
  func bilinear(_ c: Int, _ yIn: Double, _ xIn: Double) -> Double {
    if yIn < -1 || yIn > Double(height) || xIn < -1 || xIn > Double(width) { return 0 }
    var y = max(yIn, 0)
    var x = max(xIn, 0)
    var y0 = Int(y), x0 = Int(x)
    var y1 = y0 + 1, x1 = x0 + 1
    if y0 >= height - 1 { y0 = height - 1; y1 = y0; y = Double(y0) }
    if x0 >= width - 1 { x0 = width - 1; x1 = x0; x = Double(x0) }
    let ly = y - Double(y0), lx = x - Double(x0)
    func v(_ yy: Int, _ xx: Int) -> Double { input[(c * height + yy) * width + xx] }
    return (1 - ly) * (1 - lx) * v(y0, x0) + (1 - ly) * lx * v(y0, x1) + ly * (1 - lx) * v(y1, x0) + ly * lx * v(y1, x1)
  }
  let offset = aligned ? 0.5 : 0
  let x1 = roi[1] * scale - offset, y1 = roi[2] * scale - offset
  var w = roi[3] * scale - offset - x1, h = roi[4] * scale - offset - y1
  if !aligned { w = max(w, 1); h = max(h, 1) }
  let binW = w / Double(pooled), binH = h / Double(pooled)
  let gridH = sampling > 0 ? sampling : Int((h / Double(pooled)).rounded(.up))
  let gridW = sampling > 0 ? sampling : Int((w / Double(pooled)).rounded(.up))
  var out: [Double] = []
  for c in 0..<channels {
    for ph in 0..<pooled {
      for pw in 0..<pooled {
        var sum = 0.0
        for iy in 0..<gridH {
          for ix in 0..<gridW {
            let y = y1 + Double(ph) * binH + (Double(iy) + 0.5) * binH / Double(gridH)
            let x = x1 + Double(pw) * binW + (Double(ix) + 0.5) * binW / Double(gridW)
            sum += bilinear(c, y, x)
          }
        }
        out.append(sum / Double(max(gridH * gridW, 1)))
      }
    }
  }
  return out
}

@Suite struct RoIAlignTests {
  static let rois: [[Double]] = [
    [0, 1.3, 2.1, 9.7, 11.2], [1, -3, -2, 5, 4], [0, 0, 0, 15.9, 15.9], [1, 4.2, 4.2, 4.6, 4.9], [0, 12, 3, 30, 9],
    // Empty: with `aligned` and sampling 0 it has no sample points, and pools to zeros.
    [1, 3, 3, 3, 3],
  ]

  /// Both kernels (NCHW and channels-last features) against the definition, in float64.
  @Test(arguments: [(true, 2), (false, 2), (true, 0), (false, 0)], [false, true])
  func matchesDefinition(settings: (aligned: Bool, sampling: Int), channelsLast: Bool) {
    let (aligned, sampling) = settings
    let input = Tensor.randn([2, 3, 8, 8], dtype: .float64, generator: Generator(seed: 5))
    let rois = Tensor(Self.rois.flatMap { $0 }, shape: [Self.rois.count, 5])
    let out = roiAlign(channelsLast ? input.channelsLast() : input, rois: rois, outputSize: (3, 3), spatialScale: 0.5, samplingRatio: sampling, aligned: aligned)
    #expect(out.shape == [Self.rois.count, 3, 3, 3])
    for (k, roi) in Self.rois.enumerated() {
      let image = input[Int(roi[0])].contiguous().toArray(Double.self)
      let expected = referenceRoIAlign(
        image, channels: 3, height: 8, width: 8, roi: roi, pooled: 3, scale: 0.5, sampling: sampling, aligned: aligned)
      let got = out[k].contiguous().toArray(Double.self)
      #expect(zip(got, expected).allSatisfy { Swift.abs($0 - $1) < 1e-12 }, "roi \(k)")
    }
  }

  @Test func gradientMatchesFiniteDifferences() {
    let input = Tensor.randn([1, 2, 6, 6], dtype: .float64, generator: Generator(seed: 8)).requiringGrad()
    let rois = Tensor([0, 0.7, 1.2, 4.9, 5.3, 0, 2, 0.5, 3.5, 2.5] as [Double], shape: [2, 5])
    let weights = Tensor.randn([2, 2, 2, 2], dtype: .float64, generator: Generator(seed: 9))
    func objective(_ x: Tensor) -> Tensor {
      (roiAlign(x, rois: rois, outputSize: (2, 2), spatialScale: 1, samplingRatio: 2, aligned: true) * weights).sum()
    }
    objective(input).backward()
    let analytic = input.grad!.toArray(Double.self)
    let base = input.detached().toArray(Double.self)
    let h = 1e-6
    for i in stride(from: 0, to: base.count, by: 5) {
      var plus = base, minus = base
      plus[i] += h
      minus[i] -= h
      let numeric =
        (objective(Tensor(plus, shape: [1, 2, 6, 6])).doubleValue()
          - objective(Tensor(minus, shape: [1, 2, 6, 6])).doubleValue()) / (2 * h)
      #expect(Swift.abs(numeric - analytic[i]) < 1e-6, "element \(i)")
    }
  }

  @Test func float32AndBFloat16Features() {
    let input = Tensor.randn([1, 4, 10, 10], generator: Generator(seed: 2))
    let rois = Tensor([0, 1, 1, 8, 8] as [Float], shape: [1, 5])
    let f32 = roiAlign(input, rois: rois, outputSize: (7, 7), spatialScale: 1, samplingRatio: 2, aligned: false)
    let bf16 = roiAlign(input.to(.bfloat16), rois: rois, outputSize: (7, 7), spatialScale: 1, samplingRatio: 2, aligned: false)
    #expect(bf16.dtype == .bfloat16)
    #expect(bf16.to(.float32).isClose(to: f32, relativeTolerance: 0.02, absoluteTolerance: 0.05))
    // Channels-last features (what the backbones produce) pool to the same values.
    let channelsLast = roiAlign(
      input.channelsLast().to(.bfloat16), rois: rois, outputSize: (7, 7), spatialScale: 1, samplingRatio: 2, aligned: false)
    #expect(channelsLast.isEqual(to: bf16))
  }

  /// Channels-last features take their own kernels (vectorised over channels); they must give
  /// the NCHW kernels' values and gradients bit for bit, with the gradient channels-last too.
  @Test(arguments: [(true, 2), (false, 0)])
  func channelsLastKernelsEqualTheNCHWOnes(aligned: Bool, sampling: Int) {
    // 37 channels: the vector loops' remainders and the threads' channel split are both exercised.
    let input = Tensor.randn([2, 37, 9, 11], generator: Generator(seed: 4))
    let rois = Tensor(Self.rois.flatMap { $0.map(Float.init) }, shape: [Self.rois.count, 5])
    let upstream = Tensor.randn([Self.rois.count, 37, 3, 3], generator: Generator(seed: 6))
    func pooledAndGradient(_ features: Tensor) -> (Tensor, Tensor) {
      let x = features.detached().requiringGrad()
      let out = roiAlign(x, rois: rois, outputSize: (3, 3), spatialScale: 0.5, samplingRatio: sampling, aligned: aligned)
      // The gradient as the op returns it: a leaf's `.grad` would be re-laid-out like the leaf.
      return (out, gradients(of: [(out * upstream).sum()], withRespectTo: [x])[0]!)
    }
    let (plain, plainGrad) = pooledAndGradient(input)
    let (channelsLast, channelsLastGrad) = pooledAndGradient(input.channelsLast())
    #expect(channelsLast.isContiguous)
    #expect(channelsLastGrad.isChannelsLast && !channelsLastGrad.isContiguous)
    #expect(channelsLast.isEqual(to: plain))
    #expect(channelsLastGrad.isEqual(to: plainGrad))
  }

  @Test func noRoIsGiveAnEmptyResult() {
    let out = roiAlign(Tensor.zeros([1, 2, 4, 4]), rois: Tensor.zeros([0, 5]), outputSize: (2, 2), spatialScale: 1, samplingRatio: 2, aligned: true)
    #expect(out.shape == [0, 2, 2, 2])
  }

  @Test func batchIndexOutOfRangeIsAnError() {
    #expect(throws: TorchError.self) {
      try withTorchErrors {
        _ = roiAlign(Tensor.zeros([1, 1, 4, 4]), rois: Tensor([3, 0, 0, 2, 2] as [Float], shape: [1, 5]), outputSize: (2, 2), spatialScale: 1, samplingRatio: 1, aligned: true)
      }
    }
  }
}
