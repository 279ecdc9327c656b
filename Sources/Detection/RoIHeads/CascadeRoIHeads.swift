import NN
import Torch

/// Cascade R-CNN's second stage (Cai and Vasconcelos 2018), the `cascade` RoI heads kind. The
/// defaults are the paper's and detectron2's three stages.
public struct CascadeRoIHeadsConfiguration: Codable, Equatable, Sendable {
  /// One stage of the cascade: what counts as foreground for it, how its offsets are scaled,
  /// and the weight of its losses.
  public struct Stage: Codable, Equatable, Sendable {
    /// RoIs with at least this IoU to an object are its positives; below it, background.
    public var iouThreshold: Double
    public var boxRegressionWeights: [Double]
    public var lossWeight: Double

    public init(iouThreshold: Double, boxRegressionWeights: [Double], lossWeight: Double) {
      self.iouThreshold = iouThreshold
      self.boxRegressionWeights = boxRegressionWeights
      self.lossWeight = lossWeight
    }

    // Spelled out: stages sit in a list, where the config's key translation does not reach.
    private enum CodingKeys: String, CodingKey {
      case iouThreshold = "iou_threshold"
      case boxRegressionWeights = "box_regression_weights"
      case lossWeight = "loss_weight"
    }
  }

  public var stages = [
    Stage(iouThreshold: 0.5, boxRegressionWeights: [10, 10, 5, 5], lossWeight: 1),
    Stage(iouThreshold: 0.6, boxRegressionWeights: [20, 20, 10, 10], lossWeight: 0.5),
    Stage(iouThreshold: 0.7, boxRegressionWeights: [30, 30, 15, 15], lossWeight: 0.25),
  ]
  public var batchSizePerImage = 512
  public var positiveFraction = 0.25
  public var scoreThreshold = 0.05
  public var nmsThreshold = 0.5
  public var detectionsPerImage = 100
  /// The box head of every stage (each stage has its own weights).
  public var boxHead = BoxHeadKind.twoMLP(representationSize: 1024)
  public var poolerResolution = 7
  public var poolerSamplingRatio = 2
  public var poolerAligned = false
  /// Boxes smaller than this (pixels) are dropped from the detections.
  public var minSize = 1e-2
  /// Activation checkpointing in training: each stage's box head (and the mask heads) keep only
  /// their pooled inputs and run again in backward.
  public var checkpoint = false
  /// How the stages' class scores are combined at test time.
  public var scoreAveraging = CascadeScoreAveraging.probabilities
  /// Cascade Mask R-CNN's mask branch, run on the final boxes; null: boxes only.
  @Nullable public var maskHead: MaskHeadConfiguration? = nil
  /// Which stages have a mask branch (with `maskHead`).
  public var maskStages = CascadeMaskStages.last

  public init() {}
}

/// How Cascade R-CNN combines its stages' class scores at test time.
public enum CascadeScoreAveraging: String, ConfigChoice, Sendable {
  /// The mean of the stages' softmax probabilities (detectron2's `CascadeROIHeads`).
  case probabilities
  /// The softmax of the mean of the stages' logits (mmdetection's `CascadeRoIHead`).
  case logits
}

/// Which stages of Cascade Mask R-CNN have a mask head.
public enum CascadeMaskStages: String, ConfigChoice, Sendable {
  /// One mask head, trained on the last stage's samples (detectron2's `CascadeROIHeads`).
  case last
  /// A mask head per stage, each trained on its stage's samples with the stage's loss weight;
  /// at test time all run on the final boxes and their mask probabilities are averaged
  /// (mmdetection's `CascadeRoIHead`).
  case all
}

/// The cascade: each stage pools the previous stage's refined boxes, classifies them and
/// regresses them again (class-agnostic), trained on samples labelled at its own, higher IoU.
/// Boxes pass between stages without gradients. At test time the class scores are the mean of
/// the stages' (probabilities or logits, `scoreAveraging`) and the boxes the last stage's. Names
/// follow detectron2's `CascadeROIHeads`: `box_head.<stage>`, `box_predictor.<stage>`, and
/// `mask_head`, `mask_predictor`; with a mask head per stage (`maskStages: .all`),
/// `mask_head.<stage>`, `mask_predictor.<stage>`.
public final class CascadeRoIHeads: Module, SecondStage, MaskBranchHolder {
  let boxHead: [Module]
  let boxPredictor: [FastRCNNPredictor]
  /// The one mask head of `maskStages: .last` (nil otherwise).
  public let maskHead: MaskRCNNHeads?
  public let maskPredictor: MaskRCNNPredictor?
  /// The mask branch's pooler, for one mask head or all.
  public let maskPooler: MultiScaleRoIAlign?
  /// `maskStages: .all`: each stage's mask head and predictor, named `mask_head.<stage>` and
  /// `mask_predictor.<stage>` (empty otherwise).
  let stageMaskHeads: [MaskRCNNHeads]
  let stageMaskPredictors: [MaskRCNNPredictor]
  public let configuration: CascadeRoIHeadsConfiguration
  public let classes: Int
  let pooler: MultiScaleRoIAlign
  let coders: [BoxCoder]
  let matchers: [Matcher]
  let sampler: BalancedSampler

  public var hasMasks: Bool { maskHead != nil || !stageMaskHeads.isEmpty }
  var checkpointsHeads: Bool { configuration.checkpoint }

  public override func key(forProperty name: String) -> String {
    switch name {
    case "stageMaskHeads": "mask_head"
    case "stageMaskPredictors": "mask_predictor"
    default: super.key(forProperty: name)
    }
  }

  public init(
    configuration: CascadeRoIHeadsConfiguration, channels: Int, classes: Int, backbone: BackboneConfiguration,
    generator: Generator
  ) {
    self.configuration = configuration
    self.classes = classes
    let r = configuration.poolerResolution
    pooler = MultiScaleRoIAlign(
      outputSize: (r, r), samplingRatio: configuration.poolerSamplingRatio, aligned: configuration.poolerAligned)
    var heads: [Module] = []
    var predictors: [FastRCNNPredictor] = []
    for _ in configuration.stages {
      let head = configuration.boxHead.make(channels: channels, resolution: r, backbone: backbone, generator: generator)
      heads.append(head)
      predictors.append(
        FastRCNNPredictor(inputFeatures: head.outputFeatures, classes: classes, classAgnostic: true, generator: generator))
    }
    boxHead = heads
    boxPredictor = predictors
    coders = configuration.stages.map { s in
      BoxCoder(weights: (s.boxRegressionWeights[0], s.boxRegressionWeights[1], s.boxRegressionWeights[2], s.boxRegressionWeights[3]))
    }
    matchers = configuration.stages.map {
      Matcher(highThreshold: $0.iouThreshold, lowThreshold: $0.iouThreshold, allowLowQualityMatches: false)
    }
    sampler = BalancedSampler(
      batchSizePerImage: configuration.batchSizePerImage, positiveFraction: configuration.positiveFraction, generator: generator)
    if configuration.maskStages == .all, configuration.maskHead != nil {
      var pooler: MultiScaleRoIAlign? = nil
      var heads: [MaskRCNNHeads] = []
      var predictors: [MaskRCNNPredictor] = []
      for _ in configuration.stages {
        let (p, head, predictor) = makeMaskBranch(
          configuration.maskHead, channels: channels, classes: classes, aligned: configuration.poolerAligned, generator: generator)
        pooler = p
        heads.append(head!)
        predictors.append(predictor!)
      }
      (maskPooler, maskHead, maskPredictor) = (pooler, nil, nil)
      (stageMaskHeads, stageMaskPredictors) = (heads, predictors)
    } else {
      (maskPooler, maskHead, maskPredictor) = makeMaskBranch(
        configuration.maskHead, channels: channels, classes: classes, aligned: configuration.poolerAligned, generator: generator)
      (stageMaskHeads, stageMaskPredictors) = ([], [])
    }
    super.init()
  }

  /// Stage `k`'s class logits and class-agnostic offsets for `boxes`.
  private func run(stage k: Int, features: [Tensor], boxes: [Tensor], images: ImageBatch) -> (Tensor, Tensor) {
    // The heads are built by `BoxHeadKind.make`, so each is a `BoxHead`.
    let head = boxHead[k] as! any BoxHead
    let pooled = pooler(features, boxes: boxes, images: images)
    return boxPredictor[k](head(pooled, checkpointing: configuration.checkpoint))
  }

  /// `boxes` moved by stage `k`'s offsets and clipped to their images, without gradients.
  private func refined(_ boxes: [Tensor], offsets: Tensor, stage k: Int, images: ImageBatch) -> [Tensor] {
    withNoGrad {
      let moved = coders[k].decode(offsets, references: Tensor.concatenate(boxes, axis: 0)).reshaped([-1, 4])
      return moved.split(sizes: boxes.map { $0.shape[0] }, axis: 0).enumerated().map { i, b in
        let size = images.imageSizes[i]
        return Boxes(b).clipped(height: size.height, width: size.width).tensor
      }
    }
  }

  public func detect(
    features: [Tensor], proposals: [Proposals], images: ImageBatch, scoreThreshold: Double? = nil,
    detectionsPerImage: Int? = nil, nms: NMSMethod? = nil
  ) -> [Instances] {
    var boxes = proposals.map(\.boxes)
    var scores: [Tensor] = []
    var lastOffsets: Tensor? = nil
    for k in configuration.stages.indices {
      if let offsets = lastOffsets { boxes = refined(boxes, offsets: offsets, stage: k - 1, images: images) }
      let (logits, offsets) = run(stage: k, features: features, boxes: boxes, images: images)
      scores.append(configuration.scoreAveraging == .probabilities ? logits.softmax(axis: -1) : logits)
      lastOffsets = offsets
    }
    let last = configuration.stages.count - 1
    let final = coders[last].decode(lastOffsets!, references: Tensor.concatenate(boxes, axis: 0)).reshaped([-1, 1, 4])
    let meanScores = scores.dropFirst().reduce(scores[0], +) / Double(scores.count)
    let mean = configuration.scoreAveraging == .probabilities ? meanScores : meanScores.softmax(axis: -1)
    let detections = selectDetections(
      boxes: final.expanded(to: [-1, classes, 4]), probabilities: mean, counts: boxes.map { $0.shape[0] }, images: images,
      scoreThreshold: scoreThreshold ?? configuration.scoreThreshold, minSize: configuration.minSize,
      detectionsPerImage: detectionsPerImage ?? configuration.detectionsPerImage,
      nms: nms ?? .standard(iouThreshold: configuration.nmsThreshold))
    guard let maskPooler, !stageMaskHeads.isEmpty else {
      return hasMasks ? predictMasks(features: features, detections: detections, images: images) : detections
    }
    return addingMasks(
      to: detections, features: features, images: images, pooler: maskPooler,
      branches: Array(zip(stageMaskHeads, stageMaskPredictors)))
  }

  /// `loss_classifier_stage<k>` and `loss_box_reg_stage<k>` for every stage, weighted by its
  /// loss weight, and `loss_mask` on the last stage's samples (with a mask head per stage,
  /// `loss_mask_stage<k>` on each stage's samples, weighted like the stage's other losses).
  public func learn(features: [Tensor], proposals: [Proposals], images: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    var boxes = proposals.map(\.boxes)
    var losses: [String: Tensor] = [:]
    var samples: RoISamples? = nil
    var previousOffsets: Tensor? = nil
    for (k, stage) in configuration.stages.enumerated() {
      if let previous = samples, let moved = previousOffsets {
        // The previous stage's samples, moved by its predictions, are this stage's proposals.
        boxes = refined(previous.boxes, offsets: moved, stage: k - 1, images: images)
      }
      let current = sampleProposals(boxes, targets: targets, matcher: matchers[k], sampler: sampler, coder: coders[k])
      let (logits, offsets) = run(stage: k, features: features, boxes: current.boxes, images: images)
      let labels = Tensor.concatenate(current.labels, axis: 0)
      let positive = (labels .> 0).nonzeroIndices().reshaped([-1])
      let boxLoss =
        Functional.smoothL1Loss(
          offsets.gathering(positive), targets: Tensor.concatenate(current.regressionTargets, axis: 0).gathering(positive),
          beta: 1.0 / 9, reduction: .sum) / Double(max(labels.shape[0], 1))
      losses["loss_classifier_stage\(k)"] = Functional.crossEntropy(logits, targets: labels) * stage.lossWeight
      losses["loss_box_reg_stage\(k)"] = boxLoss * stage.lossWeight
      if let maskPooler, k < stageMaskHeads.count {
        losses["loss_mask_stage\(k)"] =
          maskBranchLoss(
            features: features, samples: current, images: images, targets: targets, pooler: maskPooler,
            head: stageMaskHeads[k], predictor: stageMaskPredictors[k], checkpoint: checkpointsHeads) * stage.lossWeight
      }
      samples = current
      previousOffsets = offsets
    }
    if maskHead != nil, let samples {
      losses["loss_mask"] = maskLoss(
        features: features, boxes: samples.boxes, labels: samples.labels, matches: samples.matches, images: images,
        targets: targets)
    }
    return losses
  }
}
