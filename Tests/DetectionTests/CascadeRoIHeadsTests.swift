import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// Cascade R-CNN's second stage on cases built by hand: two stages whose predictors are set to
/// known values, so the expected scores, boxes and losses follow from the definitions.
@Suite struct CascadeRoIHeadsTests {
  static func heads(
    lossWeights: [Double] = [1, 0.5], averaging: CascadeScoreAveraging = .probabilities, mask: CascadeMaskStages? = nil
  ) -> CascadeRoIHeads {
    var c = CascadeRoIHeadsConfiguration()
    c.scoreAveraging = averaging
    if let mask {
      var head = MaskHeadConfiguration()
      head.convolutions = [4]
      head.resolution = 2
      head.predictorChannels = 4
      c.maskHead = head
      c.maskStages = mask
    }
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

  /// mmdetection's rule: the softmax of the stages' mean logits, (0, 2, 0) here, which is not
  /// the mean of the stages' probabilities.
  @Test func logitAveragingTakesTheSoftmaxOfTheMeanLogits() {
    let heads = Self.heads(averaging: .logits)
    fix(heads, biases: [0, 4])
    let found = heads.detect(
      features: features, proposals: proposals, images: images, scoreThreshold: 0.2, detectionsPerImage: 10, nms: nil)[0]
    let expected = Foundation.exp(2.0) / (Foundation.exp(2.0) + 2)
    let ofProbabilities = (1.0 / 3 + Foundation.exp(4.0) / (Foundation.exp(4.0) + 2)) / 2
    #expect(Swift.abs(expected - ofProbabilities) > 0.1)
    let scores = found["scores"]!.toArray(Float.self)
    #expect(found["labels"]!.toArray(Int.self) == [1, 1])
    #expect(scores.allSatisfy { Swift.abs(Double($0) - expected) < 1e-6 }, "\(scores) vs \(expected)")
  }

  let maskTarget = Instances(
    imageSize: (64, 64),
    fields: [
      "boxes": Tensor([Float(5), 5, 20, 21], shape: [1, 4]), "labels": Tensor([Int64(2)]),
      "masks": Tensor.ones([1, 64, 64], dtype: .uint8),
    ])

  @Test func oneMaskHeadByDefaultNamedAsBefore() {
    let heads = Self.heads(mask: .last)
    let names = Set(heads.stateDict().keys)
    #expect(names.contains("mask_head.0.0.weight") && names.contains("mask_predictor.mask_fcn_logits.bias"))
    #expect(!names.contains { $0.hasPrefix("mask_predictor.1.") })
    let losses = heads.learn(features: features, proposals: proposals, images: images, targets: [maskTarget])
    #expect(losses["loss_mask"] != nil && !losses.keys.contains { $0.hasPrefix("loss_mask_stage") })
  }

  /// `mask_stages: all`: a mask head per stage, each with a loss on its stage's samples weighted
  /// by the stage's loss weight; at test time the mean of their probabilities.
  @Test func aMaskHeadPerStageTrainsWithItsStageAndAverages() throws {
    let heads = Self.heads(lossWeights: [1, 0.5], mask: .all)
    let names = Set(heads.stateDict().keys)
    for k in 0..<2 {
      #expect(names.contains("mask_head.\(k).0.0.weight") && names.contains("mask_predictor.\(k).conv5_mask.weight"))
      #expect(names.contains("mask_predictor.\(k).mask_fcn_logits.bias"))
    }
    #expect(!names.contains("mask_head.0.0.weight") && !names.contains { $0.hasPrefix("mask_predictor.mask_fcn_logits") })

    fix(heads, biases: [0, 0])
    // Stage k's mask logits are c_k everywhere: a loss of log(1 + e^(-c_k)) on the all-ones
    // target for each positive RoI, whatever its box.
    let constants: [Float] = [1, -2]
    withNoGrad {
      for (k, predictor) in heads.stageMaskPredictors.enumerated() {
        Initializer.constant(predictor.maskFcnLogits.weight, 0)
        Initializer.constant(predictor.maskFcnLogits.bias!, Double(constants[k]))
      }
    }
    let losses = heads.learn(features: features, proposals: proposals, images: images, targets: [maskTarget])
    #expect(Set(losses.keys.filter { $0.hasPrefix("loss_mask") }) == ["loss_mask_stage0", "loss_mask_stage1"])
    for (k, weight) in [1.0, 0.5].enumerated() {
      let expected = weight * Foundation.log(1 + Foundation.exp(-Double(constants[k])))
      #expect(Swift.abs(losses["loss_mask_stage\(k)"]!.doubleValue() - expected) < 1e-5, "stage \(k)")
    }
    losses["loss_mask_stage1"]!.backward()
    #expect(heads.stageMaskPredictors[1].maskFcnLogits.bias!.grad != nil)
    let first = heads.stageMaskPredictors[0].maskFcnLogits.bias!.grad
    #expect(first == nil || first!.abs().max().doubleValue() == 0)

    fix(heads, biases: [1, 1])  // one class above 0.3 per RoI
    let found = heads.detect(
      features: features, proposals: proposals, images: images, scoreThreshold: 0.3, detectionsPerImage: 10, nms: nil)[0]
    let masks = try #require(found["masks"])
    #expect(masks.shape == [2, 1, 4, 4])
    func sigmoid(_ x: Float) -> Double { 1 / (1 + Foundation.exp(-Double(x))) }
    let expected = (sigmoid(constants[0]) + sigmoid(constants[1])) / 2
    #expect(masks.toArray(Float.self).allSatisfy { Swift.abs(Double($0) - expected) < 1e-6 })
  }
}
