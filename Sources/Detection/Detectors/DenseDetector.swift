import NN
import Torch

/// A one-stage detector: the configured backbone and neck, and a dense head that predicts at
/// every location of every level (RetinaNet, FCOS). With a ResNet and an FPN, names follow
/// torchvision's `RetinaNet` and `FCOS` (`backbone.body`, `backbone.fpn`, `head`), so their
/// state dicts load with `strict: true`.
///
/// Labels are class indices `0..<classes` of the sigmoid outputs, with no background class (see
/// `RetinaNetHeadConfiguration`).
public final class DenseDetector: Module, Detector {
  public let backbone: FeatureExtractor
  public let head: any DenseHead
  public let configuration: DetectorConfiguration
  /// Read by `detect` only; training keeps using `configuration`.
  public var inference: InferenceSettings
  /// Draws training's random choices (sizes) once the initialisation is seeded.
  public let generator: Generator

  /// - Precondition: `configuration` has a `head` (a loaded config was checked).
  public init(_ configuration: DetectorConfiguration) {
    guard let headConfiguration = configuration.head else {
      preconditionFailure("DenseDetector needs a head in its configuration")
    }
    self.configuration = configuration
    inference = InferenceSettings(configuration)
    let g = Generator(seed: configuration.seed)
    generator = g
    backbone = FeatureExtractor(backbone: configuration.backbone, neck: configuration.neck, generator: g)
    head = headConfiguration.make(levels: backbone.outputShapes, classes: configuration.classes, generator: g)
    super.init()
  }

  public var hasMasks: Bool { false }

  /// Detections for `images` (each `[3, H, W]`, float in [0, 1]), in original image pixels:
  /// `boxes` `[N, 4]`, `scores` `[N]` and `labels` `[N]` (class indices). Runs without recording
  /// gradients; call `eval()` first so batch norms use their statistics.
  public func detect(_ images: [Tensor]) -> [Instances] {
    if let augmentation = inference.augment { return detect(images, augmentation: augmentation) }
    return withNoGrad {
      let timer = OperationTimer.shared
      let transform = configuration.transform.forTesting(inference)
      let (batch, _) = timer.measure("transform") { transform(images) }
      let features = timer.measure("backbone") { backbone(batch.tensor) }
      let detections = head.detect(features: features, batch: batch, settings: inference)
      return detections.enumerated().map { i, d in
        Instances(
          imageSize: batch.originalSizes[i],
          fields: [
            "boxes": transform.boxesToOriginal(d.boxes, in: batch, index: i), "scores": d.scores, "labels": d.labels,
          ])
      }
    }
  }

  /// The training losses for `images` and their `targets` (fields `boxes` in image pixels and
  /// `labels` in `0..<classes`), as the head names them.
  public func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor] {
    trainingPass(images, targets: targets).losses
  }
}

extension DenseDetector: DistillableDetector {
  public var transform: ImageTransform { configuration.transform }
  public var featureShapes: [FeatureMapShape] { backbone.outputShapes }
  public var exposesClassLogits: Bool { head is any ClassLogitsHead }

  public func trainingPass(_ images: [Tensor], targets: [Instances]) -> TrainingPass {
    precondition(images.count == targets.count, "DenseDetector.losses needs one target per image")
    let timer = OperationTimer.shared
    let (batch, resizedTargets) = timer.measure("transform") {
      configuration.transform(images, targets: targets, generator: generator)
    }
    let features = timer.measure("backbone") { backbone(batch.tensor) }
    if let head = head as? any ClassLogitsHead {
      let (losses, logits) = head.lossesAndClassLogits(features: features, batch: batch, targets: resizedTargets!)
      return TrainingPass(losses: losses, batch: batch, targets: resizedTargets!, features: features, classLogits: logits)
    }
    let losses = head.losses(features: features, batch: batch, targets: resizedTargets!)
    return TrainingPass(losses: losses, batch: batch, targets: resizedTargets!, features: features, classLogits: nil)
  }

  public func teacherOutputs(for batch: ImageBatch) -> TeacherOutputs {
    let features = backbone(batch.tensor)
    return TeacherOutputs(features: features, classLogits: (head as? any ClassLogitsHead)?.classLogits(features: features))
  }
}
