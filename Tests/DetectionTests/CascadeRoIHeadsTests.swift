import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// Cascade R-CNN's second stage on cases built by hand: two stages whose predictors are set to
/// known values, so the expected scores, boxes and losses follow from the definitions.
@Suite struct CascadeRoIHeadsTests {
  static func heads(lossWeights: [Double] = [1, 0.5]) -> CascadeRoIHeads {
    var c = CascadeRoIHeadsConfiguration()
    c.stages = [
      .init(iouThreshold: 0.5, boxRegressionWeights: [10, 10, 5, 5], lossWeight: lossWeights[0]),
      .init(iouThreshold: 0.6, boxRegressionWeights: [20, 20, 10, 10], lossWeight: lossWeights[1]),
    ]
    c.boxHead = .twoMLP(representationSize: 8)
    c.poolerResolution = 2
    c.batchSizePerImage = 16
    return CascadeRoIHeads(configuration: c, channels: 4, classes: 3, backbone: .resnet(.init()), generator: Generator(seed: 1))
  }

  let images = ImageBatch(tensor: Tensor.zeros([1, 3, 64, 64]), imageSizes: [(64, 64)], originalSizes: [(64, 64)])
  let features = [Tensor.rand([1, 4, 16, 16], generator: Generator(seed: 2))]
  let proposals = [Proposals(boxes: Tensor([Float(4), 4, 20, 20, 30, 30, 50, 60], shape: [2, 4]), scores: Tensor([Float(0.9), 0.8]))]

  /// Stage k predicts no box offset and class logits (0, biases[k], 0) for every RoI.
  func fix(_ heads: CascadeRoIHeads, biases: [Double]) {
    withNoGrad {
      for (k, predictor) in heads.boxPredictor.enumerated() {
        Initializer.constant(predictor.bboxPred.weight, 0)
        Initializer.constant(predictor.bboxPred.bias!, 0)
        Initializer.constant(predictor.clsScore.weight, 0)
        Initializer.constant(predictor.clsScore.bias!, 0)
        predictor.clsScore.bias![1] = Tensor(scalar: Float(biases[k]))
      }
    }
  }

  @Test func scoresAreTheStagesMeanOnTheLastStagesBoxes() {
    let heads = Self.heads()
    fix(heads, biases: [1, 3])
    let found = heads.detect(
      features: features, proposals: proposals, images: images, scoreThreshold: 0.2, detectionsPerImage: 10, nms: nil)[0]
    func probability(_ b: Double) -> Double { Foundation.exp(b) / (Foundation.exp(b) + 2) }
    let expected = (probability(1) + probability(3)) / 2
    let labels = found["labels"]!.toArray(Int.self)
    let scores = found["scores"]!.toArray(Float.self)
    #expect(labels == [1, 1])
    #expect(scores.allSatisfy { Swift.abs(Double($0) - expected) < 1e-6 }, "\(scores) vs \(expected)")
    // No offsets anywhere: the boxes are the proposals.
    #expect(found.boxes!.tensor.toArray(Float.self) == [4, 4, 20, 20, 30, 30, 50, 60])
  }

  @Test func everyStageHasWeightedLossesAndSeesTheGroundTruth() {
    let target = Instances(
      imageSize: (64, 64), fields: ["boxes": Tensor([Float(5), 5, 20, 21], shape: [1, 4]), "labels": Tensor([Int64(2)])])
    let weighted = Self.heads(lossWeights: [1, 0])
    fix(weighted, biases: [0, 0])
    let losses = weighted.learn(features: features, proposals: proposals, images: images, targets: [target])
    #expect(Set(losses.keys) == ["loss_classifier_stage0", "loss_box_reg_stage0", "loss_classifier_stage1", "loss_box_reg_stage1"])
    // Uniform logits: cross entropy log(3) for the first stage, weighted to 0 for the second.
    #expect(Swift.abs(losses["loss_classifier_stage0"]!.doubleValue() - Foundation.log(3.0)) < 1e-5)
    #expect(losses["loss_classifier_stage1"]!.doubleValue() == 0)
    // Zero offsets against the targets of the matched proposal and the ground truth itself
    // (zero): a positive regression loss in the first stage.
    #expect(losses["loss_box_reg_stage0"]!.doubleValue() > 0)
  }

  @Test func boxesReachTheNextStageWithoutGradients() {
    let heads = Self.heads()
    let target = Instances(
      imageSize: (64, 64), fields: ["boxes": Tensor([Float(5), 5, 20, 21], shape: [1, 4]), "labels": Tensor([Int64(2)])])
    let losses = heads.learn(features: features, proposals: proposals, images: images, targets: [target])
    losses["loss_classifier_stage1"]!.backward()
    // The second stage's classification loss reaches its own predictor, not the first stage's
    // box regression (the boxes it pooled carry no gradient).
    #expect(heads.boxPredictor[1].clsScore.weight.grad != nil)
    let firstStageRegression = heads.boxPredictor[0].bboxPred.weight.grad
    #expect(firstStageRegression == nil || firstStageRegression!.abs().max().doubleValue() == 0)
  }
}
