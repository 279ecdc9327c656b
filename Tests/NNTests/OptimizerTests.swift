import Foundation
import Testing
@testable import NN
@testable import Torch

/// Sets `p.grad` to `values` as if `backward()` had produced it.
private func setGradient(_ p: Tensor, _ values: [Double]) {
  p.grad = Tensor(values, shape: p.shape)
}

@Suite struct SGDTests {
  @Test func plainStep() {
    let p = Tensor([1.0, 2.0]).requiringGrad()
    let sgd = SGD(parameters: [p], learningRate: 0.1)
    setGradient(p, [0.5, -1])
    sgd.step()
    let expected: [Double] = [0.95, 2.1]
    #expect(p.toArray(Double.self) == expected)
  }

  @Test func momentumAndWeightDecayMatchPyTorchsRule() {
    let p = Tensor([1.0]).requiringGrad()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
    // step 1: d = g + wd·p = 0.5 + 0.01 = 0.51; buf = d; p = 1 - 0.051 = 0.949
    setGradient(p, [0.5])
    sgd.step()
    #expect(Swift.abs(p.doubleValue() - 0.949) < 1e-12)
    // step 2: d = 0.2 + 0.00949 = 0.20949; buf = 0.9·0.51 + d = 0.66849; p = 0.949 - 0.066849
    setGradient(p, [0.2])
    sgd.step()
    #expect(Swift.abs(p.doubleValue() - (0.949 - 0.066849)) < 1e-12)
  }

  @Test func nesterov() {
    let p = Tensor([0.0]).requiringGrad()
    let sgd = SGD(parameters: [p], learningRate: 1, momentum: 0.5, nesterov: true)
    setGradient(p, [1])
    sgd.step()  // buf = 1; d = 1 + 0.5·1 = 1.5
    #expect(p.doubleValue() == -1.5)
    setGradient(p, [1])
    sgd.step()  // buf = 0.5 + 1 = 1.5; d = 1 + 0.75 = 1.75
    #expect(p.doubleValue() == -3.25)
  }

  @Test func parametersWithoutGradientsAreLeftAlone() {
    let p = Tensor([3.0]).requiringGrad()
    SGD(parameters: [p], learningRate: 1).step()
    #expect(p.doubleValue() == 3)
  }

  @Test func stateRoundTripContinuesIdentically() throws {
    func run(restartAfter: Int?) throws -> Double {
      var p = Tensor([1.0, -1.0]).requiringGrad()
      var sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
      for i in 0..<6 {
        if i == restartAfter {
          let saved = sgd.state()
          let values = p.detached().clone()
          p = values.requiringGrad()
          sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
          try sgd.load(state: saved)
        }
        setGradient(p, [Double(i) * 0.1 + 0.3, -0.2])
        sgd.step()
      }
      return p.sum().doubleValue()
    }
    #expect(try run(restartAfter: 3) == run(restartAfter: nil))
  }
}

@Suite struct AdamWTests {
  @Test func firstStepsMatchTheFormula() {
    let p = Tensor([1.0]).requiringGrad()
    let opt = AdamW(parameters: [p], learningRate: 0.1, weightDecay: 0.1)
    var expected = 1.0
    var m = 0.0
    var v = 0.0
    for (t, g) in [0.5, -0.25, 1.0].enumerated() {
      setGradient(p, [g])
      opt.step()
      expected *= 1 - 0.1 * 0.1
      m = 0.9 * m + 0.1 * g
      v = 0.999 * v + 0.001 * g * g
      let mHat = m / (1 - pow(0.9, Double(t + 1)))
      let denominator = v.squareRoot() / (1 - pow(0.999, Double(t + 1))).squareRoot() + 1e-8
      expected -= 0.1 * mHat / denominator
      #expect(Swift.abs(p.doubleValue() - expected) < 1e-12, "step \(t + 1)")
    }
  }

  @Test func stateRoundTrip() throws {
    let p = Tensor([1.0, 2.0]).requiringGrad()
    let opt = AdamW(parameters: [p], learningRate: 0.01)
    setGradient(p, [1, 1])
    opt.step()
    let q = p.detached().clone().requiringGrad()
    let restored = AdamW(parameters: [q], learningRate: 0.01)
    try restored.load(state: opt.state())
    setGradient(p, [0.5, -2])
    setGradient(q, [0.5, -2])
    opt.step()
    restored.step()
    #expect(p.isEqual(to: q))
  }

  @Test func loadRejectsMismatchedShapes() {
    let p = Tensor([1.0, 2.0]).requiringGrad()
    let opt = AdamW(parameters: [p])
    setGradient(p, [1, 1])
    opt.step()
    let other = AdamW(parameters: [Tensor([1.0, 2.0, 3.0]).requiringGrad()])
    #expect(throws: OptimizerStateError.self) { try other.load(state: opt.state()) }
  }
}

@Suite struct ParameterGroupTests {
  @Test func normsAndBiasesGoWithoutDecay() {
    let model = Sequential(Conv2d(1, 2, kernelSize: 1), BatchNorm2d(2), Linear(2, 2))
    let groups = ParameterGroup.standard(for: model, learningRate: 0.02, weightDecay: 1e-4)
    #expect(groups.count == 2)
    #expect(groups[0].weightDecay == 1e-4)
    #expect(groups[0].parameters.count == 2)  // conv and linear weights
    #expect(groups[1].weightDecay == 0)
    #expect(groups[1].parameters.count == 4)  // bn weight and bias, conv and linear biases
  }

  @Test func scheduleScalesEveryGroup() {
    let groups = [
      ParameterGroup(parameters: [Tensor([1.0])], learningRate: 0.1),
      ParameterGroup(parameters: [Tensor([1.0])], learningRate: 0.01),
    ]
    let sgd = SGD(groups: groups)
    sgd.scaleLearningRate(by: 0.5)
    #expect(sgd.groups.map(\.learningRate) == [0.05, 0.005])
  }
}

@Suite struct ScheduleTests {
  @Test func linearWarmupThenSteps() {
    let schedule = LearningRateSchedule(
      warmupMethod: .linear, warmupIterations: 10, warmupFactor: 0.1,
      decay: .multiStep(milestones: [20, 30], gamma: 0.1))
    #expect(schedule.factor(at: 0) == 0.1)
    #expect(Swift.abs(schedule.factor(at: 5) - 0.55) < 1e-12)
    #expect(schedule.factor(at: 10) == 1)
    #expect(schedule.factor(at: 19) == 1)
    #expect(Swift.abs(schedule.factor(at: 20) - 0.1) < 1e-12)
    #expect(Swift.abs(schedule.factor(at: 35) - 0.01) < 1e-12)
  }

  @Test func constantWarmupThenCosine() {
    let schedule = LearningRateSchedule(
      warmupMethod: .constant, warmupIterations: 4, warmupFactor: 0.25,
      decay: .cosine(maxIterations: 100, finalFactor: 0))
    #expect(Swift.abs(schedule.factor(at: 2) - 0.25 * 0.5 * (1 + cos(Double.pi * 0.02))) < 1e-12)
    #expect(Swift.abs(schedule.factor(at: 50) - 0.5) < 1e-12)
    #expect(schedule.factor(at: 100) < 1e-12)
  }

  @Test func codableRoundTrip() throws {
    let schedule = LearningRateSchedule(decay: .multiStep(milestones: [3], gamma: 0.5))
    let data = try JSONEncoder().encode(schedule)
    #expect(try JSONDecoder().decode(LearningRateSchedule.self, from: data) == schedule)
  }
}

@Suite struct ClippingTests {
  @Test func clipsToMaxNormAndReportsTheOriginal() {
    let a = Tensor([0.0, 0.0]).requiringGrad()
    let b = Tensor([0.0]).requiringGrad()
    setGradient(a, [3, 0])
    setGradient(b, [4])
    let total = clipGradientNorm([a, b], maxNorm: 1)
    #expect(Swift.abs(total.doubleValue() - 5) < 1e-12)
    #expect(Swift.abs(a.grad!.toArray(Double.self)[0] - 0.6) < 1e-6)
    #expect(Swift.abs(b.grad!.doubleValue() - 0.8) < 1e-6)
  }

  @Test func leavesSmallGradientsAlone() {
    let a = Tensor([0.0]).requiringGrad()
    setGradient(a, [0.5])
    clipGradientNorm([a], maxNorm: 1)
    #expect(a.grad!.doubleValue() == 0.5)
  }
}
