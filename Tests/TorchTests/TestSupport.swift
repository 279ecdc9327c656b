import Foundation
import Testing

@testable import Torch

// Helpers shared by the Torch tests: reading tensors back, comparing with hand-derived numbers,
// plain-Swift reference implementations and a finite-difference gradient checker.

/// The elements of any tensor as `Double`s, row-major.
func doubles(_ t: Tensor) -> [Double] { t.toArray(Double.self) }

/// Whether `actual` matches `expected` element-wise within `tolerance`, measured absolutely near
/// zero and relatively for large numbers. NaN matches NaN.
func isClose(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-5) -> Bool {
  guard actual.count == expected.count else { return false }
  return zip(actual, expected).allSatisfy { a, e in
    if a.isNaN || e.isNaN { return a.isNaN && e.isNaN }
    if a == e { return true }
    return Swift.abs(a - e) <= tolerance * (1 + Swift.abs(e))
  }
}

/// Expects `t` to hold `expected` (row-major) and, when given, to have `shape`.
func expectValues(
  _ t: Tensor, _ expected: [Double], shape: [Int]? = nil, tolerance: Double = 1e-5,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  if let shape { #expect(t.shape == shape, "shape", sourceLocation: sourceLocation) }
  let actual = doubles(t)
  #expect(
    isClose(actual, expected, tolerance: tolerance), "got \(actual), expected \(expected)",
    sourceLocation: sourceLocation)
}

/// Deterministic, distinct, irregular test values in about [-2, 2] (no ties, so max-pooling and
/// sorting have unique answers).
func sample(_ count: Int, seed: Int = 0) -> [Double] {
  (0..<count).map { i in
    let x = Double(i) * 1.618_033_988 + Double(seed) * 0.7071 + 0.3
    return 2 * Foundation.sin(x * 2.3) * Foundation.cos(x * 0.37 + 0.1)
  }
}

/// A float tensor of `shape` filled with `sample` values.
func sampleTensor(_ shape: [Int], seed: Int = 0, dtype: DType = .float32) -> Tensor {
  Tensor(sample(shape.reduce(1, *), seed: seed), shape: shape).to(dtype)
}

// MARK: Reference implementations (plain Swift loops over row-major NCHW arrays)

/// Row-major offset of `index` in an array of `shape`.
func offset(_ index: [Int], _ shape: [Int]) -> Int {
  var result = 0
  for (i, n) in zip(index, shape) { result = result * n + i }
  return result
}

struct Conv2dConfig: Sendable, CustomTestStringConvertible {
  var batch = 2
  var inputChannels = 4
  var outputChannels = 6
  var height = 7
  var width = 6
  var kernel = (3, 2)
  var stride = (1, 1)
  var padding = (0, 0)
  var dilation = (1, 1)
  var outputPadding = (0, 0)
  var groups = 1
  var bias = true

  var testDescription: String {
    "k\(kernel) s\(stride) p\(padding) d\(dilation) op\(outputPadding) g\(groups) bias \(bias)"
  }
}

/// `torch.nn.functional.conv2d` as six nested loops. Weight is `[O, C / groups, kh, kw]`.
func referenceConv2d(
  x: [Double], xShape: [Int], weight: [Double], wShape: [Int], bias: [Double]?, stride: (Int, Int),
  padding: (Int, Int), dilation: (Int, Int), groups: Int
) -> (values: [Double], shape: [Int]) {
  let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
  let (o, cg, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3])
  precondition(cg * groups == c)
  let oh = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
  let ow = (w + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
  let og = o / groups
  var out = [Double](repeating: 0, count: n * o * oh * ow)
  for b in 0..<n {
    for oc in 0..<o {
      let g = oc / og
      for y in 0..<oh {
        for xo in 0..<ow {
          var acc = bias?[oc] ?? 0
          for ci in 0..<cg {
            let ic = g * cg + ci
            for i in 0..<kh {
              for j in 0..<kw {
                let iy = y * stride.0 - padding.0 + i * dilation.0
                let ix = xo * stride.1 - padding.1 + j * dilation.1
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                acc += x[offset([b, ic, iy, ix], xShape)] * weight[offset([oc, ci, i, j], wShape)]
              }
            }
          }
          out[offset([b, oc, y, xo], [n, o, oh, ow])] = acc
        }
      }
    }
  }
  return (out, [n, o, oh, ow])
}

/// `torch.nn.functional.conv_transpose2d` by scattering each input pixel. Weight is
/// `[C, O / groups, kh, kw]`.
func referenceConvTranspose2d(
  x: [Double], xShape: [Int], weight: [Double], wShape: [Int], bias: [Double]?, stride: (Int, Int),
  padding: (Int, Int), outputPadding: (Int, Int), dilation: (Int, Int), groups: Int
) -> (values: [Double], shape: [Int]) {
  let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
  let (og, kh, kw) = (wShape[1], wShape[2], wShape[3])
  let o = og * groups
  let cg = c / groups
  let oh = (h - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kh - 1) + outputPadding.0 + 1
  let ow = (w - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kw - 1) + outputPadding.1 + 1
  let outShape = [n, o, oh, ow]
  var out = [Double](repeating: 0, count: n * o * oh * ow)
  for b in 0..<n {
    for oc in 0..<o {
      for y in 0..<oh {
        for xo in 0..<ow { out[offset([b, oc, y, xo], outShape)] = bias?[oc] ?? 0 }
      }
    }
    for ic in 0..<c {
      let g = ic / cg
      for iy in 0..<h {
        for ix in 0..<w {
          let v = x[offset([b, ic, iy, ix], xShape)]
          for k in 0..<og {
            for i in 0..<kh {
              for j in 0..<kw {
                let y = iy * stride.0 - padding.0 + i * dilation.0
                let xo = ix * stride.1 - padding.1 + j * dilation.1
                guard y >= 0, y < oh, xo >= 0, xo < ow else { continue }
                out[offset([b, g * og + k, y, xo], outShape)] += v * weight[offset([ic, k, i, j], wShape)]
              }
            }
          }
        }
      }
    }
  }
  return (out, outShape)
}

/// Bilinear resize of every `[h, w]` plane of an NCHW array, as `torch.nn.functional.interpolate`.
/// `scale` is the output/input factor used for source coordinates when given (PyTorch uses the
/// factor the caller passed rather than the ratio of sizes).
func referenceBilinear(
  x: [Double], xShape: [Int], size: (Int, Int), alignCorners: Bool, scale: (Double, Double)? = nil
) -> [Double] {
  let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
  let (oh, ow) = size
  func source(_ dst: Int, _ inSize: Int, _ outSize: Int, _ factor: Double?) -> Double {
    if alignCorners {
      return outSize > 1 ? Double(dst) * Double(inSize - 1) / Double(outSize - 1) : 0
    }
    let ratio = factor.map { 1 / $0 } ?? Double(inSize) / Double(outSize)
    return Swift.max((Double(dst) + 0.5) * ratio - 0.5, 0)
  }
  var out = [Double](repeating: 0, count: n * c * oh * ow)
  for plane in 0..<(n * c) {
    for y in 0..<oh {
      let sy = source(y, h, oh, scale?.0)
      let y0 = Swift.min(Int(sy), h - 1)
      let y1 = Swift.min(y0 + 1, h - 1)
      let ly = sy - Double(y0)
      for xo in 0..<ow {
        let sx = source(xo, w, ow, scale?.1)
        let x0 = Swift.min(Int(sx), w - 1)
        let x1 = Swift.min(x0 + 1, w - 1)
        let lx = sx - Double(x0)
        let base = plane * h * w
        let top = x[base + y0 * w + x0] * (1 - lx) + x[base + y0 * w + x1] * lx
        let bottom = x[base + y1 * w + x0] * (1 - lx) + x[base + y1 * w + x1] * lx
        out[plane * oh * ow + y * ow + xo] = top * (1 - ly) + bottom * ly
      }
    }
  }
  return out
}

/// Max or average pooling of every plane with a window of `kernel` at `stride`, `padding` on
/// each side (padding counts in the average when `countPadding`).
func referencePool(
  x: [Double], xShape: [Int], kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), max: Bool,
  countPadding: Bool = true
) -> (values: [Double], shape: [Int]) {
  let (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
  let oh = (h + 2 * padding.0 - kernel.0) / stride.0 + 1
  let ow = (w + 2 * padding.1 - kernel.1) / stride.1 + 1
  var out = [Double]()
  for plane in 0..<(n * c) {
    for y in 0..<oh {
      for xo in 0..<ow {
        var best = -Double.infinity
        var sum = 0.0
        var inside = 0
        for i in 0..<kernel.0 {
          for j in 0..<kernel.1 {
            let iy = y * stride.0 - padding.0 + i
            let ix = xo * stride.1 - padding.1 + j
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            let v = x[plane * h * w + iy * w + ix]
            best = Swift.max(best, v)
            sum += v
            inside += 1
          }
        }
        out.append(max ? best : sum / Double(countPadding ? kernel.0 * kernel.1 : inside))
      }
    }
  }
  return (out, [n, c, oh, ow])
}

// MARK: Gradient checking

/// The largest disagreement between autograd's gradient of `f` and central finite differences,
/// over every element of every input, as `|analytic - numeric| / max(1, |numeric|)`.
///
/// `inputs` must be float64. A non-scalar `f` is reduced to a scalar with fixed random weights, so
/// every output element's gradient takes part. Non-differentiable arguments (indices, targets)
/// belong inside `f`, not in `inputs`.
func gradientError(_ inputs: [Tensor], epsilon: Double = 1e-6, _ f: ([Tensor]) -> Tensor) -> Double {
  precondition(inputs.allSatisfy { $0.dtype == .float64 }, "gradient checks need float64 inputs")
  let shapes = inputs.map(\.shape)
  let data = inputs.map(doubles)
  func tensors(_ values: [[Double]]) -> [Tensor] { zip(values, shapes).map { Tensor($0, shape: $1) } }

  let probe = withNoGrad { f(tensors(data)) }
  let weights = Tensor.randn(probe.shape, dtype: .float64, generator: Generator(seed: 1234))
  func objective(_ xs: [Tensor]) -> Tensor { (f(xs).to(.float64) * weights).sum() }

  let leaves = tensors(data).map { $0.requiringGrad() }
  let analytic = gradients(of: [objective(leaves)], withRespectTo: leaves)

  var worst = 0.0
  for i in data.indices {
    let grad = analytic[i].map(doubles) ?? [Double](repeating: 0, count: data[i].count)
    for j in data[i].indices {
      var plus = data
      plus[i][j] += epsilon
      var minus = data
      minus[i][j] -= epsilon
      let (fPlus, fMinus) = withNoGrad { (objective(tensors(plus)).doubleValue(), objective(tensors(minus)).doubleValue()) }
      let numeric = (fPlus - fMinus) / (2 * epsilon)
      worst = Swift.max(worst, Swift.abs(grad[j] - numeric) / Swift.max(1, Swift.abs(numeric)))
    }
  }
  return worst
}
