import NN
import Torch

/// A two-stage detector (Faster R-CNN, Ren et al. 2015; Mask R-CNN, He et al. 2017): the
/// configured backbone and neck, a region proposal network, and RoI heads that classify and
/// refine each proposal (and segment it, with a mask head). With a ResNet backbone and an FPN,
/// names follow torchvision's `FasterRCNN` and `MaskRCNN`, so their state dicts load with
/// `strict: true`; with no neck and the `resnet_stage` box head it is the C4 detector, and with
/// the `trident` backbone TridentNet (its branches' images go through the RPN and the RoI heads
/// as a batch of their own; see `TridentBranching`).
public final class GeneralizedRCNN: Module {
  public let backbone: FeatureExtractor
  public let rpn: RegionProposalNetwork
  public let roiHeads: any SecondStage
  public let configuration: DetectorConfiguration
  /// Read by `detect` only; training keeps using `configuration`.
  public var inference: InferenceSettings
  /// Draws training's random choices (sizes, samplers) once the initialisation is seeded.
  public let generator: Generator

  /// - Precondition: `configuration` has `rpn` and `roiHeads` (a loaded config was checked).
  public init(_ configuration: DetectorConfiguration) {
    guard let rpnConfiguration = configuration.rpn, let roiHeadsPart = configuration.roiHeads else {
      preconditionFailure("GeneralizedRCNN needs rpn and roi_heads in its configuration")
    }
    self.configuration = configuration
    inference = InferenceSettings(configuration)
    let g = Generator(seed: configuration.seed)
    generator = g
    backbone = FeatureExtractor(backbone: configuration.backbone, neck: configuration.neck, generator: g)
    let levels = backbone.outputShapes
    rpn = RegionProposalNetwork(configuration: rpnConfiguration, channels: levels[0].channels, generator: g)
    roiHeads = roiHeadsPart.make(
      input: levels[0], classes: configuration.classes, backbone: configuration.backbone, generator: g)
    super.init()
  }

  /// How TridentNet's branches, when the backbone runs them now, multiply the batch.
  private var branching: TridentBranching {
    TridentBranching(branches: backbone.body.branches, configuration: configuration.backbone.trident)
  }

  private var roiHeadsPart: RoIHeadsPart { configuration.roiHeads! }

  /// The maps RoI heads pool from: the neck's levels computed from backbone maps.
  private func pooled(_ features: [Tensor]) -> [Tensor] {
    Array(features.prefix(backbone.poolableLevels))
  }

  /// Detections for `images` (each `[3, H, W]`, float in [0, 1]), in original image pixels.
  /// Runs without recording gradients; call `eval()` first so batch norms use their statistics.
  public func detect(_ images: [Tensor]) -> [Instances] {
    if let augmentation = inference.augment { return detect(images, augmentation: augmentation) }
    return withNoGrad {
      let timer = OperationTimer.shared
      let transform = configuration.transform.forTesting(inference)
      let (batch, _) = timer.measure("transform") { transform(images) }
      let features = timer.measure("backbone") { backbone(batch.tensor) }
      let branching = self.branching
      let branched = branching.replicated(batch)
      let proposals = timer.measure("rpn") { rpn.propose(features: features, images: branched) }
      var detections = timer.measure("roi_heads") {
        roiHeads.detect(
          features: pooled(features), proposals: proposals, images: branched,
          scoreThreshold: inference.scoreThreshold, detectionsPerImage: inference.detectionsPerImage, nms: inference.nms)
      }
      if branching.branches > 1 {
        detections = branching.merged(
          detections, nms: inference.nms ?? roiHeadsPart.nms, detectionsPerImage: inference.detectionsPerImage)
      }
      return detections.enumerated().map { i, d in
        var out = Instances(imageSize: batch.originalSizes[i])
        for (name, value) in d.fields {
          out[name] = name == "boxes" ? transform.boxesToOriginal(value, in: batch, index: i) : value
        }
        if let masks = d["masks"] {
          let size = batch.originalSizes[i]
          out["masks"] = timer.measure("paste_masks") {
            MaskOperations.paste(
              masks, boxes: out["boxes"]!, height: size.height, width: size.width,
              pasting: configuration.roiHeads?.maskHead?.paste ?? .boxResize)
          }
        }
        return out
      }
    }
  }

  /// The RPN proposals for `images`, in the resized images' pixels (for inspection and parity checks).
  public func proposals(_ images: [Tensor]) -> (ImageBatch, [Proposals]) {
    withNoGrad {
      let (batch, _) = configuration.transform(images)
      return (batch, rpn.propose(features: backbone(batch.tensor), images: branching.replicated(batch)))
    }
  }

  /// The training losses for `images` and their `targets` (fields `boxes` in image pixels and
  /// `labels` in `1..<classes`, and for Mask R-CNN `masks` `[N, H, W]`): `loss_objectness`,
  /// `loss_rpn_box_reg`, `loss_classifier`, `loss_box_reg`, and `loss_mask` with masks.
  public func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor] {
    trainingPass(images, targets: targets).losses
  }
}

extension GeneralizedRCNN: DistillableDetector {
  public var transform: ImageTransform { configuration.transform }
  public var featureShapes: [FeatureMapShape] { backbone.outputShapes }
  public var exposesClassLogits: Bool { false }

  public func trainingPass(_ images: [Tensor], targets: [Instances]) -> TrainingPass {
    precondition(images.count == targets.count, "GeneralizedRCNN.losses needs one target per image")
    let timer = OperationTimer.shared
    let (batch, resizedTargets) = timer.measure("transform") {
      configuration.transform(images, targets: targets, generator: generator)
    }
    let features = timer.measure("backbone") { backbone(batch.tensor) }
    let branching = self.branching
    let branched = branching.replicated(batch)
    let branchTargets = branching.branches > 1 ? branching.targets(resizedTargets!) : resizedTargets!
    let (proposals, rpnLosses) = timer.measure("rpn") {
      rpn.proposeAndLearn(features: features, images: branched, targets: branchTargets)
    }
    let headLosses = timer.measure("roi_heads") {
      roiHeads.learn(
        features: pooled(features), proposals: branching.proposals(proposals), images: branched, targets: branchTargets)
    }
    return TrainingPass(
      losses: rpnLosses.merging(headLosses) { a, _ in a }, batch: batch, targets: resizedTargets!, features: features,
      classLogits: nil)
  }

  public func teacherOutputs(for batch: ImageBatch) -> TeacherOutputs {
    TeacherOutputs(features: backbone(batch.tensor), classLogits: nil)
  }
}

extension GeneralizedRCNN: Detector {
  public var hasMasks: Bool { roiHeads.hasMasks }
}
