import NN
import Torch

/// What one training pass of a student computed, for distillation to read beside the losses.
public struct TrainingPass {
  /// The detector's own losses, by name.
  public var losses: [String: Tensor]
  /// The transformed images the pass saw (the teacher sees the same tensor).
  public var batch: ImageBatch
  /// The targets resized into `batch`.
  public var targets: [Instances]
  /// The neck's maps, finest first.
  public var features: [Tensor]
  /// A dense head's class logits `[N, locations, classes]`, for heads that expose them.
  public var classLogits: Tensor?

  public init(losses: [String: Tensor], batch: ImageBatch, targets: [Instances], features: [Tensor], classLogits: Tensor?) {
    self.losses = losses
    self.batch = batch
    self.targets = targets
    self.features = features
    self.classLogits = classLogits
  }
}

/// What a teacher hands a student for one batch.
public struct TeacherOutputs {
  public var features: [Tensor]
  public var classLogits: Tensor?

  public init(features: [Tensor], classLogits: Tensor?) {
    self.features = features
    self.classLogits = classLogits
  }
}

/// A detector that can be a distillation student or teacher.
public protocol DistillableDetector: Detector {
  /// The transform, whose normalisation a teacher must share with its student.
  var transform: ImageTransform { get }
  /// The neck's output maps.
  var featureShapes: [FeatureMapShape] { get }
  /// Whether `teacherOutputs` and `trainingPass` carry class logits.
  var exposesClassLogits: Bool { get }
  /// `losses(_:targets:)`, with what the pass computed on the way.
  func trainingPass(_ images: [Tensor], targets: [Instances]) -> TrainingPass
  /// The teacher's side: features (and class logits) for a batch already transformed.
  func teacherOutputs(for batch: ImageBatch) -> TeacherOutputs
}

/// A dense head whose class logits distillation can read.
public protocol ClassLogitsHead: DenseHead {
  /// The losses, and the class logits `[N, locations, classes]` they came from.
  func lossesAndClassLogits(features: [Tensor], batch: ImageBatch, targets: [Instances]) -> ([String: Tensor], Tensor)
  /// The class logits alone.
  func classLogits(features: [Tensor]) -> Tensor
}
