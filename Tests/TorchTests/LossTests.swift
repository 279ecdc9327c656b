import Foundation
import Testing

@testable import Torch

/// Losses against their textbook formulas evaluated in plain Swift.
@Suite struct LossTests {
  static let logitRows: [[Double]] = [[1, 2, 3], [1, 1, 1], [0, 0, 5], [-2, 0.5, 1]]

  /// `-log softmax(row)[target]`.
  static func negativeLogLikelihood(_ row: [Double], _ target: Int) -> Double {
    let logZ = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
    return logZ - row[target]
  }

  var logits: Tensor { Tensor(Self.logitRows.flatMap { $0 }, shape: [4, 3]) }

  @Test func crossEntropyPlain() {
    let targets = [2, 0, 1, 2]
    let losses = zip(Self.logitRows, targets).map { Self.negativeLogLikelihood($0, $1) }
    let t = Tensor(targets)
    expectValues(Functional.crossEntropy(logits, targets: t, reduction: .none), losses, shape: [4])
    expectValues(Functional.crossEntropy(logits, targets: t), [losses.reduce(0, +) / 4], shape: [])
    expectValues(Functional.crossEntropy(logits, targets: t, reduction: .sum), [losses.reduce(0, +)])
    // Hand check of one row: uniform logits over three classes cost log 3.
    expectValues(Functional.crossEntropy(logits, targets: t, reduction: .none)[1], [Foundation.log(3)])
  }

  @Test func crossEntropyWithIgnoreIndexAndClassWeights() {
    let targets = [2, 255, 1, 0]
    let classWeights: [Double] = [0.5, 2, 1]
    let t = Tensor(targets)
    let w = Tensor(classWeights)
    var weighted = [Double]()
    var totalWeight = 0.0
    for (row, target) in zip(Self.logitRows, targets) {
      guard target != 255 else {
        weighted.append(0)
        continue
      }
      weighted.append(classWeights[target] * Self.negativeLogLikelihood(row, target))
      totalWeight += classWeights[target]
    }
    expectValues(
      Functional.crossEntropy(logits, targets: t, weight: w, reduction: .none, ignoreIndex: 255), weighted)
    expectValues(
      Functional.crossEntropy(logits, targets: t, weight: w, reduction: .sum, ignoreIndex: 255),
      [weighted.reduce(0, +)])
    // The mean divides by the weights of the rows that count, not by the row count.
    expectValues(
      Functional.crossEntropy(logits, targets: t, weight: w, ignoreIndex: 255), [weighted.reduce(0, +) / totalWeight])
    // Ignoring without weights averages over the three remaining rows.
    let unweighted = [0, 2, 3].map { Self.negativeLogLikelihood(Self.logitRows[$0], targets[$0]) }
    expectValues(Functional.crossEntropy(logits, targets: t, ignoreIndex: 255), [unweighted.reduce(0, +) / 3])
    // The default ignore index is -100.
    let defaultIgnored = Tensor([2, -100, 1, 0] as [Int])
    expectValues(Functional.crossEntropy(logits, targets: defaultIgnored), [unweighted.reduce(0, +) / 3])
  }

  @Test func crossEntropyWithLabelSmoothing() {
    let targets = [2, 0, 1, 2]
    let eps = 0.1
    // (1 - eps) * nll(target) + eps * mean over classes of nll(class).
    let expected = zip(Self.logitRows, targets).map { row, target in
      let all = (0..<3).map { Self.negativeLogLikelihood(row, $0) }
      return (1 - eps) * all[target] + eps * all.reduce(0, +) / 3
    }
    expectValues(
      Functional.crossEntropy(logits, targets: Tensor(targets), reduction: .none, labelSmoothing: eps), expected)
  }

  @Test func crossEntropyOverPixels() {
    // Logits [N=1, C=2, H=1, W=3] against targets [1, 1, 3]; pixel 2 is ignored.
    let x = Tensor([0, 1, 2, 2, 1, 0] as [Double], shape: [1, 2, 1, 3])
    let t = Tensor([1, 0, -100] as [Int], shape: [1, 1, 3])
    let pixel0 = Self.negativeLogLikelihood([0, 2], 1)
    let pixel1 = Self.negativeLogLikelihood([1, 1], 0)
    expectValues(Functional.crossEntropy(x, targets: t, reduction: .none), [pixel0, pixel1, 0], shape: [1, 1, 3])
    expectValues(Functional.crossEntropy(x, targets: t), [(pixel0 + pixel1) / 2])
  }

  @Test func nllLossMatchesCrossEntropy() {
    let targets = Tensor([2, 0, 1, 2] as [Int])
    let w = Tensor([1, 2, 3] as [Double])
    let a = Functional.nllLoss(logits.logSoftmax(axis: 1), targets: targets, weight: w, ignoreIndex: 0)
    let rows = [(0, 2), (2, 1), (3, 2)]
    let sum = rows.map { doubles(w)[$0.1] * Self.negativeLogLikelihood(Self.logitRows[$0.0], $0.1) }.reduce(0, +)
    expectValues(a, [sum / (3 + 2 + 3)])
  }

  @Test func binaryCrossEntropyWithLogits() {
    let x: [Double] = [-3, -0.5, 0, 2, 40, -40]
    let y: [Double] = [0, 1, 0.5, 1, 0, 1]
    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
    // Written in the stable form: max(x, 0) - x·y + log(1 + exp(-|x|)).
    let plain = zip(x, y).map { v, t in Swift.max(v, 0) - v * t + Foundation.log(1 + Foundation.exp(-Swift.abs(v))) }
    let logits = Tensor(x)
    let targets = Tensor(y)
    let none = Functional.binaryCrossEntropyWithLogits(logits, targets: targets, reduction: .none)
    expectValues(none, plain, tolerance: 1e-10)
    // Large logits stay finite: 40 against 0 costs 40, -40 against 1 costs 40.
    #expect(Swift.abs(doubles(none)[4] - 40) < 1e-9)
    expectValues(Functional.binaryCrossEntropyWithLogits(logits, targets: targets), [plain.reduce(0, +) / 6])
    expectValues(
      Functional.binaryCrossEntropyWithLogits(logits, targets: targets, reduction: .sum), [plain.reduce(0, +)])

    // Element weights and a positive-class weight: -w·[pw·y·log σ(x) + (1 - y)·log(1 - σ(x))].
    let weights: [Double] = [1, 2, 0.5, 1, 1, 3]
    let positive = 4.0
    let moderate = Array(x.prefix(4))
    let weighted = (0..<4).map { i in
      let s = sigmoid(moderate[i])
      return -weights[i] * (positive * y[i] * Foundation.log(s) + (1 - y[i]) * Foundation.log(1 - s))
    }
    let result = Functional.binaryCrossEntropyWithLogits(
      Tensor(moderate), targets: Tensor(Array(y.prefix(4))), weight: Tensor(Array(weights.prefix(4))),
      positiveWeight: Tensor([positive]), reduction: .none)
    expectValues(result, weighted, tolerance: 1e-10)
  }

  @Test(arguments: [0.5, 1.0, 2.0])
  func smoothL1WithBeta(beta: Double) {
    let input: [Double] = [0, 0.2, -0.4, 1, -3, 1.9]
    let target: [Double] = [0, 0, 0, 0, 0, 0.1]
    let expected = zip(input, target).map { a, b -> Double in
      let d = Swift.abs(a - b)
      return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta
    }
    let x = Tensor(input)
    let t = Tensor(target)
    expectValues(Functional.smoothL1Loss(x, targets: t, beta: beta, reduction: .none), expected, tolerance: 1e-12)
    expectValues(Functional.smoothL1Loss(x, targets: t, beta: beta), [expected.reduce(0, +) / 6], tolerance: 1e-12)
    expectValues(
      Functional.smoothL1Loss(x, targets: t, beta: beta, reduction: .sum), [expected.reduce(0, +)], tolerance: 1e-12)
  }

  @Test func smoothL1ByHandAndWithBetaZero() {
    // beta 1: |d| = 0.5 costs 0.125, |d| = 2 costs 1.5.
    let x = Tensor([0.5, 2] as [Float])
    let zero = Tensor.zeros([2])
    expectValues(Functional.smoothL1Loss(x, targets: zero, reduction: .none), [0.125, 1.5])
    // beta 0 is plain L1.
    expectValues(Functional.smoothL1Loss(x, targets: zero, beta: 0, reduction: .none), [0.5, 2])
  }

  @Test func l1AndMSE() {
    let x = Tensor([1, -2, 3, 0.5] as [Float], shape: [2, 2])
    let t = Tensor([0, 0, 1, 1] as [Float], shape: [2, 2])
    expectValues(Functional.l1Loss(x, targets: t, reduction: .none), [1, 2, 2, 0.5], shape: [2, 2])
    expectValues(Functional.l1Loss(x, targets: t), [5.5 / 4], shape: [])
    expectValues(Functional.l1Loss(x, targets: t, reduction: .sum), [5.5])
    expectValues(Functional.mseLoss(x, targets: t, reduction: .none), [1, 4, 4, 0.25])
    expectValues(Functional.mseLoss(x, targets: t), [9.25 / 4])
    expectValues(Functional.mseLoss(x, targets: t, reduction: .sum), [9.25])
  }

  @Test(arguments: [(0.25, 2.0), (-1.0, 2.0), (0.5, 0.0), (0.25, 1.5)])
  func sigmoidFocalLoss(alpha: Double, gamma: Double) {
    let x: [Double] = [-2, -0.3, 0, 0.7, 3, 1.2]
    let y: [Double] = [0, 1, 1, 0, 1, 0]
    // Lin et al.: FL = -α_t (1 - p_t)^γ log(p_t), with α_t = α for positives and 1 - α for negatives.
    let expected = zip(x, y).map { v, t -> Double in
      let p = 1 / (1 + Foundation.exp(-v))
      let pT = t == 1 ? p : 1 - p
      let alphaT = alpha < 0 ? 1 : (t == 1 ? alpha : 1 - alpha)
      return -alphaT * Foundation.pow(1 - pT, gamma) * Foundation.log(pT)
    }
    let logits = Tensor(x, shape: [2, 3])
    let targets = Tensor(y, shape: [2, 3])
    let none = Functional.sigmoidFocalLoss(logits, targets: targets, alpha: alpha, gamma: gamma)
    expectValues(none, expected, shape: [2, 3], tolerance: 1e-10)
    expectValues(
      Functional.sigmoidFocalLoss(logits, targets: targets, alpha: alpha, gamma: gamma, reduction: .mean),
      [expected.reduce(0, +) / 6], shape: [], tolerance: 1e-10)
    expectValues(
      Functional.sigmoidFocalLoss(logits, targets: targets, alpha: alpha, gamma: gamma, reduction: .sum),
      [expected.reduce(0, +)], tolerance: 1e-10)
  }

  @Test func focalLossDownWeightsEasyExamples() {
    // A confident correct prediction (logit 4 for a positive) costs far less than its cross entropy.
    let logit = Tensor([4] as [Double])
    let positive = Tensor([1] as [Double])
    let ce = Functional.binaryCrossEntropyWithLogits(logit, targets: positive).doubleValue()
    let focal = Functional.sigmoidFocalLoss(logit, targets: positive, alpha: -1, gamma: 2).sum().doubleValue()
    let p = 1 / (1 + Foundation.exp(-4.0))
    #expect(Swift.abs(focal - ce * (1 - p) * (1 - p)) < 1e-12)
    #expect(focal < ce / 1000)
  }
}
