import Config
import Detection
import Foundation
import NN
import Torch

/// A distillation run's frozen teacher and trainable distiller, built from `distill:` and
/// checked against the student before any training step: the teacher must read the student's
/// batch as it is (same normalisation), give maps at the same strides, and, for logit
/// distillation, class scores of the same shape.
struct DistillationSetup {
  let teacher: any DistillableDetector
  let distiller: Distiller

  init(_ configuration: DistillationConfiguration, student: any Detector, studentModel: DetectorConfiguration) throws {
    guard let student = student as? any DistillableDetector else {
      throw EngineError("distill: this detector cannot be a distillation student")
    }
    let teacherConfig: SimpleDetConfig
    do {
      teacherConfig = try SimpleDetConfig.load(file: configuration.teacher.config)
    } catch {
      throw EngineError("distill.teacher.config: \(error)")
    }
    let teacherModel = teacherConfig.model.detector
    for (role, model) in [("student", studentModel), ("teacher", teacherModel)] {
      if case .trident = model.backbone {
        throw EngineError("distill: the \(role) has a trident backbone, whose branches distillation does not pair up")
      }
    }
    let weights = URL(fileURLWithPath: configuration.teacher.weights)
    guard FileManager.default.fileExists(atPath: weights.path) else {
      throw EngineError("distill.teacher.weights: \(weights.path): no such weight file")
    }
    guard let teacher = teacherModel.makeDetector() as? any DistillableDetector else {
      throw EngineError("distill.teacher.config: \(configuration.teacher.config): this detector cannot be a teacher")
    }
    do {
      try teacher.loadWeights(contentsOf: weights)
    } catch {
      throw EngineError("distill.teacher.weights: \(error)")
    }
    teacher.eval()
    teacher.setRequiresGrad(false)

    let (s, t) = (student.transform, teacher.transform)
    guard s.mean == t.mean, s.std == t.std, s.channelOrder == t.channelOrder else {
      throw EngineError(
        "distill: the teacher (\(configuration.teacher.config)) normalises images differently from the student (model.transform mean, std, channel_order); both read the same batch")
    }
    guard s.sizeDivisible % t.sizeDivisible == 0 else {
      throw EngineError(
        "distill: the teacher needs images padded to a multiple of \(t.sizeDivisible), the student pads to \(s.sizeDivisible) (model.transform.size_divisible)")
    }
    let studentShapes = student.featureShapes, teacherShapes = teacher.featureShapes
    if configuration.losses.features != nil {
      guard studentShapes.map(\.stride) == teacherShapes.map(\.stride) else {
        throw EngineError(
          "distill.losses.features: the student's maps have strides \(studentShapes.map(\.stride)), the teacher's \(teacherShapes.map(\.stride)); feature imitation pairs them level by level")
      }
    }
    if configuration.losses.logits != nil {
      guard student.exposesClassLogits, teacher.exposesClassLogits else {
        throw EngineError("distill.losses.logits: needs dense heads (retinanet, fcos) in both the student and the teacher")
      }
      // A dry run on a small blank image: the class scores must pair up location by location.
      let probe = ImageBatch(
        tensor: Tensor.zeros([1, 3, 128, 128]), imageSizes: [(128, 128)], originalSizes: [(128, 128)])
      // In eval mode, so that the blank image leaves the student's batch-norm statistics alone.
      student.eval()
      let shapes = withNoGrad {
        (student.teacherOutputs(for: probe).classLogits?.shape ?? [], teacher.teacherOutputs(for: probe).classLogits?.shape ?? [])
      }
      student.train()
      guard shapes.0 == shapes.1 else {
        throw EngineError(
          "distill.losses.logits: the student's class scores have shape \(shapes.0) on a 128² image, the teacher's \(shapes.1); logit distillation needs the same classes, levels and anchors per location")
      }
    }
    self.teacher = teacher
    distiller = Distiller(configuration, student: studentShapes, teacher: teacherShapes, generator: Generator(seed: studentModel.seed &+ 1))
  }

  /// The student's losses with the distillation losses added, for one batch.
  func losses(student: any DistillableDetector, images: [Tensor], targets: [Instances]) -> [String: Tensor] {
    let pass = student.trainingPass(images, targets: targets)
    let teacherOutputs = withNoGrad { teacher.teacherOutputs(for: pass.batch) }
    return pass.losses.merging(distiller.losses(student: pass, teacher: teacherOutputs)) { a, _ in a }
  }
}
