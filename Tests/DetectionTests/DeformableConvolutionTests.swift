import Foundation
import Testing
@testable import Detection
@testable import Torch

/// `deformableConvolution2D` against torchvision 0.29.2's `deform_conv2d`
/// (tools/make_deform_conv_fixtures.py): outputs and the gradients of input, offsets, mask,
/// weight and bias of `sum(output · probe)`, in float64 (to 1e-10) and float32 (to 1e-4 relative
/// to the largest value), on v1 and v2 cases with groups, offset groups, strides, dilation,
/// padding, a rectangular kernel and samples outside the map; and finite differences in float64.
@Suite struct DeformableConvolutionTests {
  struct Case: Decodable {
    var name: String
    var stride, padding, dilation: [Int]
    var groups: Int
    var input: [Double]
    var input_shape: [Int]
    var offset: [Double]
    var offset_shape: [Int]
    var mask: [Double]?
    var mask_shape: [Int]?
    var weight: [Double]
    var weight_shape: [Int]
    var bias: [Double]?
    var probe: [Double]
    var output: [Double]
    var output_shape: [Int]
    var grad_input, grad_offset, grad_weight: [Double]
    var grad_mask, grad_bias: [Double]?
  }

  struct Fixture: Decodable { var cases: [Case] }

  static let fixture: Fixture = try! JSONDecoder().decode(
    Fixture.self, from: Data(contentsOf: fixtureURL("deform_conv.json")))

  /// The case's leaves in `dtype`, requiring gradients.
  func leaves(_ c: Case, _ dtype: DType) -> (input: Tensor, offset: Tensor, mask: Tensor?, weight: Tensor, bias: Tensor?) {
    func leaf(_ values: [Double], _ shape: [Int]) -> Tensor { Tensor(values, shape: shape).to(dtype).requiringGrad() }
    return (
      leaf(c.input, c.input_shape), leaf(c.offset, c.offset_shape), c.mask.map { leaf($0, c.mask_shape!) },
      leaf(c.weight, c.weight_shape), c.bias.map { leaf($0, [c.weight_shape[0]]) }
    )
  }

  func apply(_ c: Case, _ t: (input: Tensor, offset: Tensor, mask: Tensor?, weight: Tensor, bias: Tensor?)) -> Tensor {
    deformableConvolution2D(
      t.input, offset: t.offset, mask: t.mask, weight: t.weight, bias: t.bias, stride: (c.stride[0], c.stride[1]),
      padding: (c.padding[0], c.padding[1]), dilation: (c.dilation[0], c.dilation[1]), groups: c.groups)
  }

  /// The largest difference over the largest magnitude of the reference.
  func relativeError(_ ours: Tensor?, _ expected: [Double]?) -> Double {
    guard let expected else { return ours == nil ? 0 : .infinity }
    guard let ours else { return .infinity }
    let values = ours.to(.float64).contiguous().toArray(Double.self)
    guard values.count == expected.count else { return .infinity }
    let scale = max(expected.map(Swift.abs).max() ?? 1, 1e-12)
    return zip(values, expected).map { Swift.abs($0 - $1) }.max()! / scale
  }

  @Test(arguments: [DType.float64, .float32])
  func matchesTorchvision(dtype: DType) {
    let tolerance = dtype == .float64 ? 1e-10 : 1e-4
    for c in Self.fixture.cases {
      let t = leaves(c, dtype)
      let output = apply(c, t)
      #expect(output.shape == c.output_shape, "\(c.name)")
      (output * Tensor(c.probe, shape: c.output_shape).to(dtype)).sum().backward()
      let errors: [(String, Double)] = [
        ("output", relativeError(output, c.output)), ("input", relativeError(t.input.grad, c.grad_input)),
        ("offset", relativeError(t.offset.grad, c.grad_offset)), ("mask", relativeError(t.mask?.grad, c.grad_mask)),
        ("weight", relativeError(t.weight.grad, c.grad_weight)), ("bias", relativeError(t.bias?.grad, c.grad_bias)),
      ]
      for (name, error) in errors { #expect(error < tolerance, "\(c.name) \(dtype) \(name): \(error)") }
    }
  }

  /// Central differences in float64 on every input of the v2 case with a bias and offset groups.
  @Test func gradientsMatchFiniteDifferences() {
    let c = Self.fixture.cases.first { $0.name == "v2_offset_groups_2" }!
    let t = leaves(c, .float64)
    let probe = Tensor(c.probe, shape: c.output_shape)
    (apply(c, t) * probe).sum().backward()
    let g = Generator(seed: 3)
    let h = 1e-6
    let named: [(String, [Double], [Int], Tensor)] = [
      ("input", c.input, c.input_shape, t.input), ("offset", c.offset, c.offset_shape, t.offset),
      ("mask", c.mask!, c.mask_shape!, t.mask!), ("weight", c.weight, c.weight_shape, t.weight),
      ("bias", c.bias!, [c.weight_shape[0]], t.bias!),
    ]
    for (k, (name, values, shape, leaf)) in named.enumerated() {
      let analytic = leaf.grad!.reshaped([-1]).toArray(Double.self)
      // The loss with this one input replaced by `values` changed at one place.
      func loss(_ i: Int, _ x: Double) -> Double {
        var changed = values
        changed[i] = x
        var inputs = named.map { Tensor($0.1, shape: $0.2) }
        inputs[k] = Tensor(changed, shape: shape)
        let out = deformableConvolution2D(
          inputs[0], offset: inputs[1], mask: inputs[2], weight: inputs[3], bias: inputs[4],
          stride: (c.stride[0], c.stride[1]), padding: (c.padding[0], c.padding[1]),
          dilation: (c.dilation[0], c.dilation[1]), groups: c.groups)
        return (out * probe).sum().doubleValue()
      }
      for _ in 0..<6 {
        let i = Tensor.randint(0..<values.count, shape: [1], generator: g).intValue()
        let numeric = (loss(i, values[i] + h) - loss(i, values[i] - h)) / (2 * h)
        #expect(
          Swift.abs(numeric - analytic[i]) < 1e-5 * max(1, Swift.abs(numeric)), "\(name)[\(i)]: \(numeric) vs \(analytic[i])")
      }
    }
  }

  /// Zero offsets and a unit mask are an ordinary convolution; channels-last input and bfloat16
  /// give the same values (bfloat16 to its precision).
  @Test func zeroOffsetsAreAConvolutionInEveryLayoutAndPrecision() {
    let g = Generator(seed: 9)
    let x = Tensor.rand([2, 8, 11, 9], generator: g)
    let weight = Tensor.rand([6, 4, 3, 3], generator: g) - 0.5
    let bias = Tensor.rand([6], generator: g)
    let offset = Tensor.zeros([2, 2 * 9, 6, 5])
    let expected = Functional.conv2d(x, weight: weight, bias: bias, stride: (2, 2), padding: (1, 1), groups: 2)
    for input in [x, x.channelsLast()] {
      let ours = deformableConvolution2D(
        input, offset: offset, mask: Tensor.ones([2, 9, 6, 5]), weight: weight, bias: bias, stride: (2, 2),
        padding: (1, 1), groups: 2)
      #expect((ours - expected).abs().max().doubleValue() < 1e-5)
    }
    let half = deformableConvolution2D(
      x.to(.bfloat16), offset: offset.to(.bfloat16), weight: weight.to(.bfloat16), bias: bias.to(.bfloat16),
      stride: (2, 2), padding: (1, 1), groups: 2)
    #expect(half.dtype == .bfloat16)
    #expect((half.to(.float32) - expected).abs().max().doubleValue() < 0.05 * expected.abs().max().doubleValue())
  }

  @Test func badShapesAreErrorsNamingTheProblem() {
    let x = Tensor.rand([1, 4, 8, 8])
    let weight = Tensor.rand([2, 4, 3, 3])
    let error = #expect(throws: TorchError.self) {
      try withTorchErrors { _ = deformableConvolution2D(x, offset: Tensor.zeros([1, 17, 6, 6]), weight: weight) }
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("offsets must be"), "\(String(describing: error))")
  }
}
