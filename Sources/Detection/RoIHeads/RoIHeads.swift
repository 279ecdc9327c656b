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
  /// Mask R-CNN's mask branch; null builds Faster R-CNN.
  @Nullable public var maskHead: MaskHeadConfiguration? = nil

  public init() {}
}

/// The RoI heads part of a two-stage detector, chosen by `kind`.
public enum RoIHeadsPart: Equatable, Sendable {
  /// One box head and predictor, and optionally a mask branch (Faster and Mask R-CNN).
  case standard(RoIHeadsConfiguration)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case standard
  }

  public var kind: Kind {
    switch self {
    case .standard: .standard
    }
  }

  /// The settings of the standard heads.
  public var standard: RoIHeadsConfiguration {
    get {
      switch self {
      case .standard(let c): c
      }
    }
    set { self = .standard(newValue) }
  }

  func make(input: FeatureMapShape, classes: Int, backbone: BackboneConfiguration, generator: Generator) -> RoIHeads {
    switch self {
    case .standard(let c):
      RoIHeads(configuration: c, channels: input.channels, classes: classes, backbone: backbone, generator: generator)
    }
  }
}

extension RoIHeadsPart: Codable {
  public init(from decoder: any Decoder) throws {
    switch try decoder.partKind(Kind.self, family: "RoI heads") {
    case .standard: self = .standard(try RoIHeadsConfiguration(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .standard(let c): try encoder.encodePart(kind: kind, settings: c)
    }
  }
}

/// The second stage of Faster R-CNN: pools each proposal, classifies it and refines its box.
/// Training samples proposals against the ground truth and returns the losses; testing returns
/// per-image detections after class-wise NMS. Names follow torchvision's `RoIHeads`.
public final class RoIHeads: Module {
  public let boxHead: any BoxHead
  public let boxPredictor: FastRCNNPredictor
  public let configuration: RoIHeadsConfiguration
  public let pooler: MultiScaleRoIAlign
  public let classes: Int
  /// Mask R-CNN's branch (nil for Faster R-CNN): `mask_head` and `mask_predictor` in state dicts.
  public let maskHead: MaskRCNNHeads?
  public let maskPredictor: MaskRCNNPredictor?
  let maskPooler: MultiScaleRoIAlign?
  let coder: BoxCoder
  let matcher: Matcher
  let sampler: BalancedSampler

  public var hasMasks: Bool { maskHead != nil }

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
    if let mask = configuration.maskHead {
      maskPooler = MultiScaleRoIAlign(
        outputSize: (mask.resolution, mask.resolution), samplingRatio: mask.samplingRatio,
        aligned: configuration.poolerAligned)
      maskHead = MaskRCNNHeads(channels: channels, configuration: mask, generator: generator)
      maskPredictor = MaskRCNNPredictor(
        inputChannels: mask.convolutions.last ?? channels, reducedChannels: mask.predictorChannels, classes: classes,
        generator: generator)
    } else {
      maskPooler = nil
      maskHead = nil
      maskPredictor = nil
    }
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
    let detections = postprocess(
      scores: scores, offsets: offsets, proposals: boxes, images: images,
      scoreThreshold: scoreThreshold ?? configuration.scoreThreshold,
      detectionsPerImage: detectionsPerImage ?? configuration.detectionsPerImage, nms: nms)
    return hasMasks ? predictMasks(features: features, detections: detections, images: images) : detections
  }

  /// Adds `masks` `[N, 1, M, M]` (probabilities for each detection's class, in its box) to each
  /// image's detections (torchvision's `maskrcnn_inference`).
  private func predictMasks(features: [Tensor], detections: [Instances], images: ImageBatch) -> [Instances] {
    guard let maskPooler, let maskHead, let maskPredictor else { return detections }
    let boxes = detections.map { $0.boxes!.tensor }
    let logits = maskPredictor(maskHead(maskPooler(features, boxes: boxes, images: images)))
    let labels = Tensor.concatenate(detections.map { $0["labels"]! }, axis: 0)
    let rows = Tensor.arange(0, labels.shape[0], dtype: .int64, device: logits.device)
    let probabilities = logits.sigmoid()[rows, labels].unsqueezed(axis: 1)
    let perImage = probabilities.split(sizes: boxes.map { $0.shape[0] }, axis: 0)
    return zip(detections, perImage).map { d, masks in
      Instances(imageSize: d.imageSize, fields: d.fields.merging(["masks": masks]) { $1 })
    }
  }

  /// Training path: classification and box-regression losses on sampled proposals.
  public func learn(features: [Tensor], proposals: [Proposals], images: ImageBatch, targets: [Instances]) -> [String: Tensor] {
    var sampledBoxes: [Tensor] = []
    var sampledLabels: [Tensor] = []
    var sampledTargets: [Tensor] = []
    var sampledMatches: [Tensor] = []
    withNoGrad {
      for (p, target) in zip(proposals, targets) {
        let gtBoxes = target.boxes?.tensor ?? Tensor.zeros([0, 4], dtype: p.boxes.dtype, device: p.boxes.device)
        let gtLabels = target["labels"] ?? Tensor.zeros([0], dtype: .int64, device: p.boxes.device)
        // Ground-truth boxes join the proposals, so every object has a perfect sample.
        let candidates = Tensor.concatenate([p.boxes, gtBoxes.to(p.boxes.dtype)], axis: 0)
        let (labels, matched, matchIndex) = assign(candidates, gtBoxes: gtBoxes, gtLabels: gtLabels)
        let (positive, negative) = sampler(labels)
        let keep = (positive .|| negative).nonzeroIndices().reshaped([-1])
        sampledBoxes.append(candidates.gathering(keep))
        sampledLabels.append(labels.gathering(keep))
        sampledMatches.append(matchIndex.gathering(keep))
        sampledTargets.append(coder.encode(matched.gathering(keep), references: candidates.gathering(keep)))
      }
    }
    let (scores, offsets) = boxPredictor(boxHead(pooler(features, boxes: sampledBoxes, images: images)))
    let labels = Tensor.concatenate(sampledLabels, axis: 0)
    let regressionTargets = Tensor.concatenate(sampledTargets, axis: 0)
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
        features: features, boxes: sampledBoxes, labels: sampledLabels, matches: sampledMatches, images: images,
        targets: targets)
    }
    return losses
  }

  /// Mask R-CNN's loss on the positive sampled RoIs of each image.
  private func maskLoss(
    features: [Tensor], boxes: [Tensor], labels: [Tensor], matches: [Tensor], images: ImageBatch, targets: [Instances]
  ) -> Tensor {
    guard let maskPooler, let maskHead, let maskPredictor else { preconditionFailure("no mask branch") }
    let m = 2 * maskPooler.outputSize.0
    var positiveBoxes: [Tensor] = []
    var positiveLabels: [Tensor] = []
    var maskTargets: [Tensor] = []
    withNoGrad {
      for i in boxes.indices {
        guard let gtMasks = targets[i]["masks"] else {
          preconditionFailure("Mask R-CNN needs a `masks` field [N, H, W] in every target")
        }
        let positive = (labels[i] .> 0).nonzeroIndices().reshaped([-1])
        let b = boxes[i].gathering(positive)
        positiveBoxes.append(b)
        positiveLabels.append(labels[i].gathering(positive))
        maskTargets.append(
          gtMasks.shape[0] == 0
            ? Tensor.zeros([0, m, m], dtype: b.dtype, device: b.device)
            : MaskOperations.targets(masks: gtMasks, boxes: b, matched: matches[i].gathering(positive), size: m))
      }
    }
    let logits = maskPredictor(maskHead(maskPooler(features, boxes: positiveBoxes, images: images)))
    return MaskOperations.loss(
      logits: logits, labels: Tensor.concatenate(positiveLabels, axis: 0), targets: Tensor.concatenate(maskTargets, axis: 0))
  }

  /// Class labels (0 background, -1 ignored), matched boxes and matched ground-truth indices
  /// (clamped to 0 for unmatched candidates) of one image's candidates.
  private func assign(_ candidates: Tensor, gtBoxes: Tensor, gtLabels: Tensor) -> (Tensor, Tensor, Tensor) {
    guard gtBoxes.shape[0] > 0 else {
      let zeros = Tensor.zeros([candidates.shape[0]], dtype: .int64, device: candidates.device)
      return (zeros, candidates.zerosLike(), zeros)
    }
    let matches = matcher(Boxes.iou(Boxes(gtBoxes.to(candidates.dtype)), Boxes(candidates)))
    let clamped = matches.clamped(min: 0)
    var labels = gtLabels.gathering(clamped).to(.int64)
    labels = labels.filling(where: matches .== Matcher.belowLowThreshold, with: 0)
    labels = labels.filling(where: matches .== Matcher.betweenThresholds, with: -1)
    return (labels, gtBoxes.to(candidates.dtype).gathering(clamped), clamped)
  }

  private func postprocess(
    scores logits: Tensor, offsets: Tensor, proposals: [Tensor], images: ImageBatch, scoreThreshold: Double,
    detectionsPerImage: Int, nms: NMSMethod?
  ) -> [Instances] {
    let counts = proposals.map { $0.shape[0] }
    let decoded = coder.decode(offsets, references: Tensor.concatenate(proposals, axis: 0))
    let probabilities = logits.softmax(axis: -1)
    let boxesPerImage = decoded.split(sizes: counts, axis: 0)
    let scoresPerImage = probabilities.split(sizes: counts, axis: 0)
    var results: [Instances] = []
    for (i, (boxes, scores)) in zip(boxesPerImage, scoresPerImage).enumerated() {
      let size = images.imageSizes[i]
      let n = boxes.shape[0]
      // Per-class candidates, background (class 0) removed.
      let clipped = Boxes(boxes.reshaped([-1, 4])).clipped(height: size.height, width: size.width).tensor
        .reshaped([n, classes, 4])[.all, 1...].reshaped([-1, 4])
      let classScores = scores[.all, 1...].reshaped([-1])
      let labels = Tensor.arange(1, classes, dtype: .int64, device: boxes.device).reshaped([1, -1])
        .expanded(to: [n, classes - 1]).reshaped([-1])
      let candidates = ((classScores .> scoreThreshold) .&& Boxes(clipped).hasSize(atLeast: configuration.minSize))
        .nonzeroIndices().reshaped([-1])
      let keptBoxes = clipped.gathering(candidates)
      let keptScores = classScores.gathering(candidates)
      let keptLabels = labels.gathering(candidates)
      let method = nms ?? .standard(iouThreshold: configuration.nmsThreshold)
      let reduced = method.apply(boxes: keptBoxes, scores: keptScores, groups: keptLabels)
      let top = Swift.min(detectionsPerImage, reduced.indices.shape[0])
      results.append(
        Instances(
          imageSize: size,
          fields: [
            "boxes": reduced.boxes[..<top], "scores": reduced.scores[..<top],
            "labels": keptLabels.gathering(reduced.indices[..<top]),
          ]))
    }
    return results
  }
}
