import Foundation
import Torch

/// Weight initialisation schemes, filling tensors in place (without recording gradients).
/// Each takes an optional `Generator` so that a model built with a seed is reproducible.
public enum Initializer {
  /// Fan-in and fan-out as PyTorch computes them: for a conv weight `[out, in, kh, kw]`
  /// fan-in is `in·kh·kw` and fan-out `out·kh·kw`.
  public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    precondition(shape.count >= 2, "fan-in and fan-out need at least 2 dimensions, got \(shape)")
    let receptive = shape.dropFirst(2).reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
  }

  /// The gain PyTorch recommends for a nonlinearity (`calculate_gain`).
  public static func gain(_ nonlinearity: Nonlinearity) -> Double {
    switch nonlinearity {
    case .linear, .sigmoid: 1
    case .tanh: 5.0 / 3
    case .relu: 2.0.squareRoot()
    case .leakyRelu(let slope): (2.0 / (1 + slope * slope)).squareRoot()
    }
  }

  public enum Nonlinearity: Sendable {
    case linear, sigmoid, tanh, relu
    case leakyRelu(negativeSlope: Double)
  }

  public enum FanMode: Sendable { case fanIn, fanOut }

  /// He uniform: U(-b, b) with `b = gain·sqrt(3 / fan)`.
  public static func kaimingUniform(
    _ t: Tensor, mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .leakyRelu(negativeSlope: 0),
    generator: Generator? = nil
  ) {
    let (fanIn, fanOut) = fans(t.shape)
    let fan = Double(mode == .fanIn ? fanIn : fanOut)
    let bound = gain(nonlinearity) * (3 / fan).squareRoot()
    uniform(t, -bound...bound, generator: generator)
  }

  /// He normal: N(0, std²) with `std = gain / sqrt(fan)`.
  public static func kaimingNormal(
    _ t: Tensor, mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .leakyRelu(negativeSlope: 0),
    generator: Generator? = nil
  ) {
    let (fanIn, fanOut) = fans(t.shape)
    let fan = Double(mode == .fanIn ? fanIn : fanOut)
    normal(t, std: gain(nonlinearity) / fan.squareRoot(), generator: generator)
  }

  /// Glorot uniform: U(-b, b) with `b = gain·sqrt(6 / (fanIn + fanOut))`.
  public static func xavierUniform(_ t: Tensor, gain: Double = 1, generator: Generator? = nil) {
    let (fanIn, fanOut) = fans(t.shape)
    let bound = gain * (6 / Double(fanIn + fanOut)).squareRoot()
    uniform(t, -bound...bound, generator: generator)
  }

  /// Glorot normal: N(0, std²) with `std = gain·sqrt(2 / (fanIn + fanOut))`.
  public static func xavierNormal(_ t: Tensor, gain: Double = 1, generator: Generator? = nil) {
    let (fanIn, fanOut) = fans(t.shape)
    normal(t, std: gain * (2 / Double(fanIn + fanOut)).squareRoot(), generator: generator)
  }

  public static func normal(_ t: Tensor, mean: Double = 0, std: Double, generator: Generator? = nil) {
    withNoGrad { t.fillNormal(mean: mean, std: std, generator: generator) }
  }

  public static func uniform(_ t: Tensor, _ range: ClosedRange<Double>, generator: Generator? = nil) {
    withNoGrad { t.fillUniform(range, generator: generator) }
  }

  public static func constant(_ t: Tensor, _ value: Double) {
    withNoGrad { t.fill(with: value) }
  }

  /// PyTorch's default for `Conv2d` and `Linear`: weights He-uniform with `a = sqrt(5)` and biases
  /// U(-1/sqrt(fanIn), 1/sqrt(fanIn)), so a model built here starts where a PyTorch one would.
  public static func pytorchDefault(weight: Tensor, bias: Tensor?, generator: Generator?) {
    kaimingUniform(weight, nonlinearity: .leakyRelu(negativeSlope: 5.0.squareRoot()), generator: generator)
    if let bias {
      let fanIn = Double(fans(weight.shape).fanIn)
      let bound = fanIn > 0 ? 1 / fanIn.squareRoot() : 0
      uniform(bias, -bound...bound, generator: generator)
    }
  }
}
