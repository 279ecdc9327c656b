import NN
import Torch

/// The trainable side of knowledge distillation: the 1×1 adaptation convolutions of feature
/// imitation (`adaptations.N`, one per neck level), and the distillation losses. It trains with
/// the student and is saved beside the student's checkpoints, never in the model: inference
/// costs what the student alone costs.
public final class Distiller: Module {
  public let configuration: DistillationConfiguration
  /// Student channels → teacher channels, per level.
  public let adaptations: ModuleList
  private let adaptationLayers: [Conv2d]
  private let strides: [Int]

  /// - Parameters: the neck outputs of student and teacher, level by level (same count and
  ///   strides; the caller checks).
  public init(_ configuration: DistillationConfiguration, student: [FeatureMapShape], teacher: [FeatureMapShape], generator: Generator) {
    self.configuration = configuration
    strides = student.map(\.stride)
    adaptationLayers =
      configuration.losses.features == nil
        ? []
        : zip(student, teacher).map { s, t in
          let conv = Conv2d(s.channels, t.channels, kernelSize: 1, generator: generator)
          Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
          Initializer.constant(conv.bias!, 0)
          return conv
        }
    adaptations = ModuleList(adaptationLayers)
    super.init()
  }

  /// The distillation losses of one step, named `distill_features` and `distill_logits`, each
  /// already multiplied by its weight.
  public func losses(student: TrainingPass, teacher: TeacherOutputs) -> [String: Tensor] {
    var losses: [String: Tensor] = [:]
    if let features = configuration.losses.features {
      losses["distill_features"] = featureImitation(student: student, teacher: teacher.features, settings: features) * features.weight
    }
    if let logits = configuration.losses.logits, let studentLogits = student.classLogits, let teacherLogits = teacher.classLogits {
      losses["distill_logits"] = Self.logitDistillation(student: studentLogits, teacher: teacherLogits, temperature: logits.temperature) * logits.weight
    }
    return losses
  }

  /// Mean squared difference of the adapted student maps to the teacher's, averaged over the
  /// levels; over the object regions only when so configured.
  private func featureImitation(student: TrainingPass, teacher: [Tensor], settings: FeatureImitationConfiguration) -> Tensor {
    var perLevel: [Tensor] = []
    for (level, (studentMap, teacherMap)) in zip(student.features, teacher).enumerated() {
      let adapted = adaptationLayers[level](studentMap)
      let difference = (fullPrecision(adapted) - fullPrecision(teacherMap)).squared()
      switch settings.region {
      case .all:
        perLevel.append(difference.mean())
      case .objects:
        let mask = withNoGrad {
          Self.objectMask(
            targets: student.targets, stride: strides[level], height: teacherMap.shape[2], width: teacherMap.shape[3],
            margin: settings.objectMargin, device: teacherMap.device)
        }
        let cells = mask.sum() * Double(teacherMap.shape[1])
        perLevel.append((difference * mask).sum() / cells.clamped(min: 1.0))
      }
    }
    return perLevel.dropFirst().reduce(perLevel[0], +) / Double(perLevel.count)
  }

  /// `[N, 1, H, W]` float: 1 where a cell's centre lies inside some target box grown by `margin`
  /// of its width and height on each side.
  public static func objectMask(targets: [Instances], stride: Int, height: Int, width: Int, margin: Double, device: Device) -> Tensor {
    let s = Double(stride)
    let xs = (Tensor.arange(width, dtype: .float32, device: device) + 0.5) * s
    let ys = (Tensor.arange(height, dtype: .float32, device: device) + 0.5) * s
    let masks = targets.map { target -> Tensor in
      guard let boxes = target.boxes?.tensor, boxes.shape[0] > 0 else {
        return Tensor.zeros([1, height, width], device: device)
      }
      let b = boxes.to(.float32)
      let grownX = (b[.all, 2] - b[.all, 0]) * margin
      let grownY = (b[.all, 3] - b[.all, 1]) * margin
      let x1 = (b[.all, 0] - grownX).unsqueezed(axis: 1), x2 = (b[.all, 2] + grownX).unsqueezed(axis: 1)
      let y1 = (b[.all, 1] - grownY).unsqueezed(axis: 1), y2 = (b[.all, 3] + grownY).unsqueezed(axis: 1)
      let insideX = ((xs.unsqueezed(axis: 0) .>= x1) .&& (xs.unsqueezed(axis: 0) .<= x2)).to(.float32)  // [K, W]
      let insideY = ((ys.unsqueezed(axis: 0) .>= y1) .&& (ys.unsqueezed(axis: 0) .<= y2)).to(.float32)  // [K, H]
      // Some box covers (y, x) exactly when Σ_k insideY[k, y] · insideX[k, x] > 0.
      return (insideY.transposed(0, 1).matmul(insideX) .> 0.0).to(.float32).unsqueezed(axis: 0)
    }
    return Tensor.stack(masks, axis: 0)
  }

  /// T² · KL(teacher ‖ student) of the per-class Bernoulli distributions σ(z/T), summed over
  /// classes and averaged over the locations of the batch.
  public static func logitDistillation(student: Tensor, teacher: Tensor, temperature: Double) -> Tensor {
    let s = fullPrecision(student) / temperature
    let t = fullPrecision(teacher) / temperature
    let p = t.sigmoid()
    // KL(p ‖ q) = H(p, q) − H(p): cross entropy against the teacher's probabilities minus
    // their own entropy, so that the loss is 0 when the student matches.
    let crossEntropy = Functional.binaryCrossEntropyWithLogits(s, targets: p, reduction: .sum)
    let entropy = Functional.binaryCrossEntropyWithLogits(t, targets: p, reduction: .sum)
    let locations = Double(student.shape[0] * student.shape[1])
    return (crossEntropy - entropy) * (temperature * temperature / locations)
  }
}
