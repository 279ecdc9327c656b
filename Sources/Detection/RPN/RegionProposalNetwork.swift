import NN
import Torch

/// Settings of the region proposal network, with torchvision's defaults.
public struct RPNConfiguration: Codable, Equatable, Sendable {
  public var anchorSizes: [[Double]] = [[32], [64], [128], [256], [512]]
  public var aspectRatios: [[Double]] = Array(repeating: [0.5, 1, 2], count: 5)
  public var preNMSTopNTrain = 2000
  public var preNMSTopNTest = 1000
  public var postNMSTopNTrain = 2000
  public var postNMSTopNTest = 1000
  public var nmsThreshold = 0.7
  public var foregroundIoU = 0.7
  public var backgroundIoU = 0.3
  public var batchSizePerImage = 256
  public var positiveFraction = 0.5
  public var scoreThreshold = 0.0
  /// Boxes smaller than this (pixels) are dropped from the proposals.
  public var minSize = 1e-3
  /// 3×3 convolutions in the head (2 in torchvision's v2 models).
  public var convDepth = 1
  /// Round the anchor templates to whole pixels (torchvision); false for mmdetection's weights.
  public var roundAnchors = true
  /// Anchor stride of each level in pixels, as mmdetection's `strides` ([4, 8, 16, 32, 64]);
  /// empty (torchvision) to take them from the feature sizes.
  public var anchorStrides: [Int] = []

  public init() {}
}

/// Proposals of one image with their objectness, the RPN's output.
public struct Proposals {
  public var boxes: Tensor
  public var scores: Tensor
}

/// The region proposal network of Faster R-CNN (Ren et al. 2015). The training path returns the
/// proposals and the objectness and box losses on sampled anchors; the test path returns the
/// proposals only. Neither passes gradients into the proposals.
public final class RegionProposalNetwork: Module {
  public let head: RPNHead
  public let anchorGenerator: AnchorGenerator
  public let configuration: RPNConfiguration
  let coder = BoxCoder(weights: (1, 1, 1, 1))
  let matcher: Matcher
  let sampler: BalancedSampler

  public init(configuration: RPNConfiguration, channels: Int, generator: Generator) {
    self.configuration = configuration
    anchorGenerator = AnchorGenerator(
      sizes: configuration.anchorSizes, aspectRatios: configuration.aspectRatios, roundsBaseAnchors: configuration.roundAnchors,
      strides: configuration.anchorStrides)
    let perLocation = Set(anchorGenerator.anchorsPerLocation)
    precondition(perLocation.count == 1, "RPNHead needs the same number of anchors per location at every level")
    head = RPNHead(
      channels: channels, anchorsPerLocation: perLocation.first!, convDepth: configuration.convDepth, generator: generator)
    matcher = Matcher(
      highThreshold: configuration.foregroundIoU, lowThreshold: configuration.backgroundIoU, allowLowQualityMatches: true)
    sampler = BalancedSampler(
      batchSizePerImage: configuration.batchSizePerImage, positiveFraction: configuration.positiveFraction,
      generator: generator)
    super.init()
  }

  /// Test path: the proposals of each image.
  public func propose(features: [Tensor], images: ImageBatch) -> [Proposals] {
    let raw = run(features: features, images: images)
    return select(raw, images: images, preNMSTopN: configuration.preNMSTopNTest, postNMSTopN: configuration.postNMSTopNTest)
  }

  /// Training path: proposals plus the objectness and box-regression losses against `targets`.
  public func proposeAndLearn(features: [Tensor], images: ImageBatch, targets: [Instances]) -> (
    proposals: [Proposals], losses: [String: Tensor]
  ) {
    let raw = run(features: features, images: images)
    let proposals = select(
      raw, images: images, preNMSTopN: configuration.preNMSTopNTrain, postNMSTopN: configuration.postNMSTopNTrain)
    let losses = self.losses(raw, targets: targets)
    return (proposals, losses)
  }

  struct RawPredictions {
    /// `[N, total]` logits, `[N, total, 4]` offsets, `[total, 4]` anchors, anchors per level.
    var objectness: Tensor
    var offsets: Tensor
    var anchors: Tensor
    var levelSizes: [Int]
  }

  private func run(features: [Tensor], images: ImageBatch) -> RawPredictions {
    let outputs = head(features)
    let featureSizes = features.map { ($0.shape[2], $0.shape[3]) }
    let anchors = anchorGenerator.anchors(
      imageSize: (images.tensor.shape[2], images.tensor.shape[3]), featureSizes: featureSizes,
      dtype: features[0].dtype, device: features[0].device)
    let objectness = flattenPredictions(outputs.map(\.objectness), channels: 1).squeezed(axis: 2)
    let offsets = flattenPredictions(outputs.map(\.offsets), channels: 4)
    return RawPredictions(
      objectness: objectness, offsets: offsets, anchors: Tensor.concatenate(anchors, axis: 0),
      levelSizes: anchors.map { $0.shape[0] })
  }

  /// Per image: top-k per level, decode, clip, drop tiny and low boxes, NMS per level, top-k.
  private func select(_ raw: RawPredictions, images: ImageBatch, preNMSTopN: Int, postNMSTopN: Int) -> [Proposals] {
    withNoGrad {
      let n = raw.objectness.shape[0]
      let objectness = raw.objectness.detached()
      var picked: [Tensor] = []
      var levelIds: [Tensor] = []
      var offset = 0
      for (level, size) in raw.levelSizes.enumerated() {
        let k = min(preNMSTopN, size)
        let top = objectness.sliced(axis: 1, offset..<(offset + size)).topK(k, axis: 1).indices + offset
        picked.append(top)
        levelIds.append(Tensor.full([k], value: level, dtype: .int64, device: objectness.device))
        offset += size
      }
      let index = Tensor.concatenate(picked, axis: 1)
      let levels = Tensor.concatenate(levelIds, axis: 0)
      let scores = objectness.gather(axis: 1, indices: index).sigmoid()
      var result: [Proposals] = []
      for i in 0..<n {
        let chosen = index[i]
        let deltas = raw.offsets[i].detached().gathering(chosen)
        let anchors = raw.anchors.gathering(chosen)
        var boxes = Boxes(coder.decode(deltas, references: anchors))
        let size = images.imageSizes[i]
        boxes = boxes.clipped(height: size.height, width: size.width)
        var keep = boxes.hasSize(atLeast: configuration.minSize) .&& (scores[i] .>= configuration.scoreThreshold)
        let kept = keep.nonzeroIndices().reshaped([-1])
        let keptBoxes = boxes.tensor.gathering(kept)
        let keptScores = scores[i].gathering(kept)
        let keptLevels = levels.gathering(kept)
        keep = batchedNonMaximumSuppression(
          boxes: keptBoxes, scores: keptScores, groups: keptLevels, iouThreshold: configuration.nmsThreshold)
        let final = keep[..<min(postNMSTopN, keep.shape[0])]
        result.append(Proposals(boxes: keptBoxes.gathering(final), scores: keptScores.gathering(final)))
      }
      return result
    }
  }

  private func losses(_ raw: RawPredictions, targets: [Instances]) -> [String: Tensor] {
    var labels: [Tensor] = []
    var regressionTargets: [Tensor] = []
    withNoGrad {
      for target in targets {
        var (imageLabels, matchedBoxes) = assign(anchors: raw.anchors, groundTruth: target.boxes?.tensor)
        if let ignored = target.ignoredBoxes {
          imageLabels = ignoringOverlaps(
            labels: imageLabels, candidates: raw.anchors, ignored: ignored, threshold: configuration.backgroundIoU)
        }
        labels.append(imageLabels)
        regressionTargets.append(coder.encode(matchedBoxes, references: raw.anchors))
      }
    }
    var positives: [Tensor] = []
    var negatives: [Tensor] = []
    for imageLabels in labels {
      let (p, n) = sampler(imageLabels)
      positives.append(p)
      negatives.append(n)
    }
    let positiveMask = Tensor.concatenate(positives, axis: 0)
    let positive = positiveMask.nonzeroIndices().reshaped([-1])
    let sampled = (positiveMask .|| Tensor.concatenate(negatives, axis: 0)).nonzeroIndices().reshaped([-1])
    let objectness = raw.objectness.reshaped([-1])
    let offsets = raw.offsets.reshaped([-1, 4])
    let allLabels = Tensor.concatenate(labels, axis: 0)
    let allTargets = Tensor.concatenate(regressionTargets, axis: 0)
    let boxLoss =
      Functional.smoothL1Loss(
        offsets.gathering(positive), targets: allTargets.gathering(positive), beta: 1.0 / 9, reduction: .sum)
      / Double(max(sampled.shape[0], 1))
    let objectnessLoss = Functional.binaryCrossEntropyWithLogits(
      objectness.gathering(sampled), targets: allLabels.gathering(sampled))
    return ["loss_objectness": objectnessLoss, "loss_rpn_box_reg": boxLoss]
  }

  /// Anchor labels (1 foreground, 0 background, -1 ignored) and the matched box of each anchor.
  private func assign(anchors: Tensor, groundTruth: Tensor?) -> (Tensor, Tensor) {
    guard let gt = groundTruth, gt.shape[0] > 0 else {
      let count = anchors.shape[0]
      return (Tensor.zeros([count], dtype: anchors.dtype, device: anchors.device), anchors.zerosLike())
    }
    let quality = OperationTimer.shared.measure("matching") { Boxes.iou(Boxes(gt), Boxes(anchors)) }
    let matches = matcher(quality)
    let matched = gt.gathering(matches.clamped(min: 0))
    var labels = (matches .>= 0).to(anchors.dtype)
    labels = labels.filling(where: matches .== Matcher.betweenThresholds, with: -1)
    return (labels, matched)
  }
}
