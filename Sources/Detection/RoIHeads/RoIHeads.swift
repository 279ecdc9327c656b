import NN
import Torch

/// Settings of the box branch, with torchvision's defaults.
public struct RoIHeadsConfiguration: Codable, Equatable, Sendable {
  public var foregroundIoU = 0.5
  public var backgroundIoU = 0.5
  public var batchSizePerImage = 512
  public var positiveFraction = 0.25
  public var boxRegressionWeights: [Double] = [10, 10, 5, 5]
  public var scoreThreshold = 0.05
  public var nmsThreshold = 0.5
  public var detectionsPerImage = 100
  public var boxHead = BoxHeadKind.twoMLP(representationSize: 1024)
  public var poolerResolution = 7
  /// Sample points per bin side; 0 adapts them to each box (mmdetection, detectron2).
  public var poolerSamplingRatio = 2
  /// RoIAlign sampling at pixel centres (detectron2's `ROIAlignV2`, mmdetection), as opposed to
  /// torchvision's legacy half-pixel offset; for the box and the mask branch.
  public var poolerAligned = false
  /// Boxes smaller than this (pixels) are dropped from the detections.
  public var minSize = 1e-2
  /// Activation checkpointing in training: the box head (and the mask head) keep only their
  /// pooled inputs and run again in backward (the C4 box head's stage 5 holds the most).
  public var checkpoint = false
  /// Mask R-CNN's mask branch; null builds Faster R-CNN.
  @Nullable public var maskHead: MaskHeadConfiguration? = nil

  public init() {}
}

/// The second stage of Faster R-CNN: pools each proposal, classifies it and refines its box.
/// Training samples proposals against the ground truth and returns the losses; testing returns
/// per-image detections after class-wise NMS. Names follow torchvision's `RoIHeads`.
public final class RoIHeads: Module, SecondStage, MaskBranchHolder {
  public let boxHead: any BoxHead
  public let boxPredictor: FastRCNNPredictor
  public let configuration: RoIHeadsConfiguration
  public let pooler: MultiScaleRoIAlign
  public let classes: Int
  /// Mask R-CNN's branch (nil for Faster R-CNN): `mask_head` and `mask_predictor` in state dicts.
  public let maskHead: MaskRCNNHeads?
  public let maskPredictor: MaskRCNNPredictor?
  public let maskPooler: MultiScaleRoIAlign?
  let coder: BoxCoder
  let matcher: Matcher
  let sampler: BalancedSampler

  public var hasMasks: Bool { maskHead != nil }
  var checkpointsHeads: Bool { configuration.checkpoint }

  /// - Parameter backbone: what the box head may continue (the C4 head runs the backbone's stage 5).
  public init(
    configuration: RoIHeadsConfiguration, channels: Int, classes: Int, backbone: BackboneConfiguration = .resnet(.init()),
    generator: Generator
  ) {
    self.configuration = configuration
    self.classes = classes
    let r = configuration.poolerResolution
    pooler = MultiScaleRoIAlign(
      outputSize: (r, r), samplingRatio: configuration.poolerSamplingRatio, aligned: configuration.poolerAligned)
    boxHead = configuration.boxHead.make(channels: channels, resolution: r, backbone: backbone, generator: generator)
    boxPredictor = FastRCNNPredictor(inputFeatures: boxHead.outputFeatures, classes: classes, generator: generator)
    let w = configuration.boxRegressionWeights
    coder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
    matcher = Matcher(highThreshold: configuration.foregroundIoU, lowThreshold: configuration.backgroundIoU, allowLowQualityMatches: false)
    sampler = BalancedSampler(
      batchSizePerImage: configuration.batchSizePerImage, positiveFraction: configuration.positiveFraction, generator: generator)
    (maskPooler, maskHead, maskPredictor) = makeMaskBranch(
      configuration.maskHead, channels: channels, classes: classes, aligned: configuration.poolerAligned, generator: generator)
    super.init()
  }

  /// Test path: detections per image, in the resized image's pixels. The score threshold, the
  /// number kept per image and the NMS (standard, at `nmsThreshold`) default to the configuration's.
  public func detect(
    features: [Tensor], proposals: [Proposals], images: ImageBatch, scoreThreshold: Double? = nil,
    detectionsPerImage: Int? = nil, nms: NMSMethod? = nil
  ) -> [Instances] {
    let boxes = proposals.map(\.boxes)
    let (scores, offsets) = boxPredictor(boxHead(pooler(features, boxes: boxes, images: images)))
    let decoded = coder.decode(offsets, references: Tensor.concatenate(boxes, axis: 0))
    let detections = selectDetections(
      boxes: decoded.reshaped([decoded.shape[0], classes, 4]), probabilities: scores.softmax(axis: -1),
      counts: boxes.map { $0.shape[0] }, images: images, scoreThreshold: scoreThreshold ?? configuration.scoreThreshold,
      minSize: configuration.minSize, detectionsPerImage: detectionsPerImage ?? configuration.detectionsPerImage,
      nms: nms ?? .standard(iouThreshold: configuration.nmsThreshold))
    return hasMasks ? predictMasks(features: features, detections: detections, images: images) : detections
  }

  /// Training path: classification and box-regression losses on sampled proposals.
  public func learn(features: [Tensor], proposals: [Proposals], images: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    let samples = sampleProposals(
      proposals.map(\.boxes), targets: targets, matcher: matcher, sampler: sampler, coder: coder)
    let sampledBoxes = samples.boxes
    let pooled = pooler(features, boxes: sampledBoxes, images: images)
    let (scores, offsets) = boxPredictor(boxHead(pooled, checkpointing: configuration.checkpoint))
    let labels = Tensor.concatenate(samples.labels, axis: 0)
    let regressionTargets = Tensor.concatenate(samples.regressionTargets, axis: 0)
    let classification = Functional.crossEntropy(scores, targets: labels)
    let positive = (labels .> 0).nonzeroIndices().reshaped([-1])
    let positiveLabels = labels.gathering(positive)
    let perClass = offsets.reshaped([offsets.shape[0], offsets.shape[1] / 4, 4])
    let predicted = perClass.gathering(positive).gather(
      axis: 1, indices: positiveLabels.reshaped([-1, 1, 1]).expanded(to: [-1, 1, 4])
    ).squeezed(axis: 1)
    let boxLoss =
      Functional.smoothL1Loss(predicted, targets: regressionTargets.gathering(positive), beta: 1.0 / 9, reduction: .sum)
      / Double(max(labels.shape[0], 1))
    var losses = ["loss_classifier": classification, "loss_box_reg": boxLoss]
    if hasMasks {
      losses["loss_mask"] = maskLoss(
        features: features, boxes: sampledBoxes, labels: samples.labels, matches: samples.matches, images: images,
        targets: targets)
    }
    return losses
  }
}
