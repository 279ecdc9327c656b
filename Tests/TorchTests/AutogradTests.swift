import Foundation
import Testing

@testable import Torch

/// Autograd bookkeeping and gradients. Grad mode is per thread and every test here restores it,
/// but the suite is serialized so that no test watches another's no-grad scope.
@Suite(.serialized) struct AutogradTests {
  @Test func requiresGradAndLeaves() {
    let x = Tensor([1, 2, 3] as [Double])
    #expect(!x.requiresGrad)
    #expect(x.isLeaf)
    x.requiresGrad = true
    #expect(x.requiresGrad)
    let y = x * 2
    #expect(y.requiresGrad)
    #expect(!y.isLeaf)
    #expect(x.grad == nil)
    let z = Tensor.zeros([2]).requiringGrad()
    #expect(z.requiresGrad)
    z.requiringGrad(false)
    #expect(!z.requiresGrad)
    // Only floating-point tensors can require gradients.
    #expect(throws: TorchError.self) { try withTorchErrors { Tensor.arange(3).requiresGrad = true } }
  }

  @Test func backwardComputesGradients() throws {
    let x = Tensor([1, 2, 3] as [Double]).requiringGrad()
    let w = Tensor([0.5, -1, 2] as [Double]).requiringGrad()
    let loss = (x * x * w).sum()
    loss.backward()
    // d/dx = 2xw, d/dw = x².
    let gx = try #require(x.grad)
    let gw = try #require(w.grad)
    expectValues(gx, [1, -4, 12])
    expectValues(gw, [1, 4, 9])
    #expect(!gx.requiresGrad)
  }

  @Test func gradientsAccumulateUntilZeroed() throws {
    let x = Tensor([1, -2] as [Double]).requiringGrad()
    (x * 3).sum().backward()
    (x * x).sum().backward()
    expectValues(try #require(x.grad), [3 + 2, 3 - 4])
    x.zeroGradient()
    #expect(x.grad == nil)
    (x * 3).sum().backward()
    expectValues(try #require(x.grad), [3, 3])
    // Gradients can also be set by hand (an optimizer test, say).
    x.grad = Tensor([7, 7] as [Double])
    (x * 1).sum().backward()
    expectValues(try #require(x.grad), [8, 8])
    x.grad = nil
    #expect(x.grad == nil)
  }

  @Test func backwardOfNonScalarNeedsAGradient() throws {
    let x = Tensor([1, 2, 3] as [Double]).requiringGrad()
    let y = x * x
    y.backward(gradient: Tensor([1, 0.5, -1] as [Double]))
    expectValues(try #require(x.grad), [2, 2, -6])
    let z = (x * x).sum()
    #expect(throws: TorchError.self) { try withTorchErrors { (x * x).backward() } }
    // The graph is freed after backward unless retained.
    z.backward(retainGraph: true)
    z.backward()
    expectValues(try #require(x.grad), [2 + 4, 2 + 8, -6 + 12])
    let once = (x * x).sum()
    once.backward()
    let error = try #require(throws: TorchError.self) { try withTorchErrors { once.backward() } }
    #expect(error.operation == "backward")
    #expect(error.message.contains("second time"))
  }

  @Test func detachedStopsGradients() throws {
    let x = Tensor([2, 3] as [Double]).requiringGrad()
    let d = x.detached()
    #expect(!d.requiresGrad)
    #expect(d.sharesStorage(with: x))
    (x * d).sum().backward()
    // Only the attached factor contributes: d(x·c)/dx = c.
    expectValues(try #require(x.grad), [2, 3])
    // clone() stays in the graph.
    x.zeroGradient()
    (x.clone() * 4).sum().backward()
    expectValues(try #require(x.grad), [4, 4])
  }

  @Test func noGradScopes() throws {
    #expect(isGradEnabled)
    let x = Tensor([1, 2] as [Double]).requiringGrad()
    let y = withNoGrad { x * 2 }
    #expect(!y.requiresGrad)
    withNoGrad {
      #expect(!isGradEnabled)
      withGradEnabled(true) {
        #expect(isGradEnabled)
        #expect((x * 2).requiresGrad)
      }
      #expect(!isGradEnabled)
    }
    #expect(isGradEnabled)
    // Restored even when the body throws.
    struct Failure: Error {}
    #expect(throws: Failure.self) { try withNoGrad { throw Failure() } }
    #expect(isGradEnabled)
    // Values come back through the scope.
    #expect(withNoGrad { 42 } == 42)
  }

  @Test func inPlaceUpdatesUnderNoGradKeepTheLeaf() throws {
    // One SGD step: w ← w - 0.1·∇, then the next step sees the new values.
    let w = Tensor([1, -1] as [Double]).requiringGrad()
    (w * w).sum().backward()
    let step = try #require(w.grad)
    withNoGrad { w.add(step, scaledBy: -0.1) }
    expectValues(w, [0.8, -0.8])
    #expect(w.isLeaf)
    #expect(w.requiresGrad)
    w.zeroGradient()
    (w * w).sum().backward()
    expectValues(try #require(w.grad), [1.6, -1.6])
    withNoGrad {
      w.multiply(by: 0.5)
      w.addProduct(Tensor([1, 1] as [Double]), Tensor([2, 3] as [Double]), scaledBy: 1)
      w.addQuotient(Tensor([1, 1] as [Double]), Tensor([2, 4] as [Double]), scaledBy: 2)
    }
    expectValues(w, [0.4 + 2 + 1, -0.4 + 3 + 0.5])
    // In place on a leaf that requires grad, outside no-grad, is refused.
    let error = try #require(throws: TorchError.self) { try withTorchErrors { w.fill(with: 0) } }
    #expect(error.operation == "fill(with:)")
    #expect(error.message.contains("leaf"))
  }

  @Test func inPlaceOperationsOnIntermediatesAreDifferentiated() throws {
    let x = Tensor([1, 2] as [Double]).requiringGrad()
    let y = x * 3
    y += 1
    y *= x  // y = (3x + 1)·x, dy/dx = 6x + 1
    y.sum().backward()
    expectValues(try #require(x.grad), [7, 13])
  }

  @Test func gradientsOfWithRespectTo() throws {
    let x = Tensor([1, 2] as [Double]).requiringGrad()
    let w = Tensor([3, 4] as [Double]).requiringGrad()
    let unused = Tensor([0] as [Double]).requiringGrad()
    let y = (x * w).sum()
    let grads = gradients(of: [y], withRespectTo: [x, w, unused])
    expectValues(try #require(grads[0]), [3, 4])
    expectValues(try #require(grads[1]), [1, 2])
    #expect(grads[2] == nil)
    // The inputs' .grad are untouched.
    #expect(x.grad == nil)
    #expect(w.grad == nil)
    // Several outputs sum their gradients.
    let both = gradients(of: [(x * x).sum(), (x * 5).sum()], withRespectTo: [x])
    expectValues(try #require(both[0]), [2 + 5, 4 + 5])
  }

  @Test func secondDerivativesWithCreateGraph() throws {
    let x = Tensor([1, 2] as [Double]).requiringGrad()
    let y = x.pow(3).sum()
    let first = try #require(gradients(of: [y], withRespectTo: [x], createGraph: true)[0])
    expectValues(first, [3, 12])
    #expect(first.requiresGrad)
    let second = try #require(gradients(of: [first.sum()], withRespectTo: [x])[0])
    expectValues(second, [6, 12])
  }

  // MARK: Finite differences

  @Test func gradientCheckerCatchesAWrongGradient() {
    // x·detached(x) has true derivative 2x, but autograd sees only x: the checker must object.
    let x = Tensor([0.5, 1.5, -2] as [Double])
    #expect(gradientError([x]) { $0[0] * $0[0].detached() } > 0.4)
    #expect(gradientError([x]) { $0[0] * $0[0] } < 1e-6)
  }

  @Test(arguments: GradientCase.all)
  func gradientMatchesFiniteDifferences(_ c: GradientCase) {
    let inputs = c.shapes.enumerated().map { i, shape in
      Tensor(sample(shape.reduce(1, *), seed: 20 + 3 * i).map(c.transform), shape: shape)
    }
    let error = gradientError(inputs, c.function)
    #expect(error < 1e-6, "\(c.name): worst gradient error \(error)")
  }
}

/// One operation to differentiate numerically: its float64 input shapes and how to apply it.
struct GradientCase: Sendable, CustomTestStringConvertible {
  let name: String
  let shapes: [[Int]]
  /// Maps sample values into the operation's domain (positive for `sqrt`, say).
  let transform: @Sendable (Double) -> Double
  let function: @Sendable ([Tensor]) -> Tensor

  init(
    _ name: String, _ shapes: [[Int]], transform: @escaping @Sendable (Double) -> Double = { $0 },
    _ function: @escaping @Sendable ([Tensor]) -> Tensor
  ) {
    self.name = name
    self.shapes = shapes
    self.transform = transform
    self.function = function
  }

  var testDescription: String { name }

  static let all: [GradientCase] = [
    GradientCase("conv2d", [[2, 4, 5, 5], [6, 2, 3, 2], [6]]) {
      Functional.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 1), padding: (1, 1), dilation: (1, 2), groups: 2)
    },
    GradientCase("convTranspose2d", [[1, 4, 3, 3], [4, 1, 2, 3], [2]]) {
      Functional.convTranspose2d(
        $0[0], weight: $0[1], bias: $0[2], stride: (2, 2), padding: (1, 0), outputPadding: (1, 1), groups: 2)
    },
    GradientCase("linear", [[3, 4], [2, 4], [2]]) { Functional.linear($0[0], weight: $0[1], bias: $0[2]) },
    GradientCase("matmul", [[2, 3, 4], [4, 2]]) { $0[0].matmul($0[1]) },
    GradientCase("softmax", [[3, 5]]) { $0[0].softmax(axis: 1) },
    GradientCase("logSoftmax", [[3, 5]]) { $0[0].logSoftmax(axis: 0) },
    GradientCase("sigmoid", [[7]]) { $0[0].sigmoid() },
    GradientCase("tanh·gelu·silu", [[7]]) { $0[0].tanh() + $0[0].gelu() + $0[0].silu() },
    GradientCase("exp·log·sqrt", [[6]], transform: { Swift.abs($0) + 0.2 }) {
      $0[0].exp() + $0[0].log() * 2 + $0[0].sqrt() * 3
    },
    GradientCase("division·pow", [[5], [5]], transform: { Swift.abs($0) + 0.5 }) { $0[0] / $0[1] + $0[0].pow($0[1]) },
    GradientCase("clamped", [[8]]) { $0[0].clamped(min: -1, max: 1) * $0[0] },
    GradientCase("smoothL1", [[10], [10]]) { Functional.smoothL1Loss($0[0], targets: $0[1], beta: 0.5) },
    GradientCase("l1·mse", [[6], [6]]) {
      Functional.l1Loss($0[0], targets: $0[1]) + Functional.mseLoss($0[0], targets: $0[1], reduction: .sum)
    },
    GradientCase("crossEntropy", [[4, 3]]) {
      Functional.crossEntropy(
        $0[0], targets: Tensor([2, 255, 0, 1] as [Int]), weight: Tensor([1, 2, 0.5] as [Double]), ignoreIndex: 255)
    },
    GradientCase("bceWithLogits", [[6]]) {
      Functional.binaryCrossEntropyWithLogits(
        $0[0], targets: Tensor([0, 1, 0.3, 1, 0, 1] as [Double]), positiveWeight: Tensor([2] as [Double]))
    },
    GradientCase("sigmoidFocalLoss", [[6]]) {
      Functional.sigmoidFocalLoss($0[0], targets: Tensor([0, 1, 0, 1, 0, 1] as [Double]), reduction: .sum)
    },
    GradientCase("bilinear", [[1, 2, 3, 4]]) { Functional.interpolate($0[0], size: (5, 7), mode: .bilinear) },
    GradientCase("bilinear aligned", [[1, 1, 3, 3]]) {
      Functional.interpolate($0[0], size: (4, 5), mode: .bilinear, alignCorners: true)
    },
    GradientCase("nearest", [[1, 1, 2, 3]]) { Functional.interpolate($0[0], scale: (2, 2)) },
    GradientCase("gather", [[3, 4]]) {
      $0[0].gather(axis: 1, indices: Tensor([3, 0, 0, 1, 2, 2] as [Int], shape: [3, 2]))
    },
    GradientCase("index select", [[4, 3]]) { $0[0].gathering(Tensor([3, 1, 3] as [Int]), axis: 0) },
    GradientCase("subscripts·masks", [[4, 3]]) {
      $0[0][1..., Tensor([2, 0] as [Int])] * 2 + $0[0].masked(by: Tensor([true, false, true]))[0..<4].sum()
    },
    GradientCase("joint index", [[3, 4]]) {
      $0[0][Tensor([0, 2, 2, 1] as [Int]), Tensor([1, 3, 3, 0] as [Int])] + $0[0][.all, Tensor([true, false, true, true])].sum()
    },
    GradientCase("scatterAdd", [[2, 4], [2, 3]]) {
      $0[0].scatteringAdd(axis: 1, indices: Tensor([1, 1, 3, 0, 2, 0] as [Int], shape: [2, 3]), source: $0[1])
    },
    GradientCase("maxPool2d", [[1, 2, 5, 5]]) {
      Functional.maxPool2d($0[0], kernelSize: (3, 3), stride: (2, 2), padding: (1, 1))
    },
    GradientCase("avgPool2d", [[1, 2, 5, 4]]) { Functional.avgPool2d($0[0], kernelSize: (2, 3), stride: (1, 1)) },
    GradientCase("adaptive pools", [[1, 2, 5, 5]]) {
      Functional.adaptiveAvgPool2d($0[0], outputSize: (3, 2)).sum() + Functional.adaptiveMaxPool2d($0[0], outputSize: (2, 2)).sum()
    },
    GradientCase("batchNorm", [[3, 2, 2, 2], [2], [2]]) {
      Functional.batchNorm(
        $0[0], runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true)
    },
    GradientCase("groupNorm·layerNorm", [[2, 4, 2, 2]]) {
      Functional.groupNorm($0[0], groups: 2) + Functional.layerNorm($0[0], normalizedShape: [2, 2])
    },
    GradientCase("reductions", [[3, 4]]) { inputs in
      let x = inputs[0]
      let moments: Tensor = x.mean(axis: 1) + x.variance(axes: [1]) + x.standardDeviation(axes: [1])
      let extremes: Tensor = x.logSumExp(axes: [1]) + x.max(axes: [1]) + x.norm(axes: [1])
      return moments + extremes + x.product(axes: [1]) + x.sum(axes: [1]) * x.min(axes: [1])
    },
    GradientCase("topK·sort", [[2, 5]]) { $0[0].topK(2).values.sum() + $0[0].sorted(axis: 1).values * 0.5 },
    GradientCase("shapes", [[2, 3], [2, 3]]) {
      Tensor.concatenate([$0[0], $0[1].T.reshaped([2, 3])], axis: 1).permuted(1, 0).flattened()
        * Tensor.stack([$0[0], $0[1]]).sum(axis: 0).repeated([1, 2]).flattened()
    },
    GradientCase("where", [[6], [6]]) { Tensor.select(where: $0[0] .> 0, $0[0] * $0[1], $0[1].exp()) },
  ]
}
