import Detection
import Foundation
import NN
import Testing
import Torch

/// The distillation losses on hand-built tensors, against the formulas computed element by
/// element in Swift.
@Suite struct DistillationLossTests {
  @Test func logitDistillationIsTheTemperedBinaryKL() {
    let student = Tensor([0.5, -1.0, 2.0, 0.0, -3.0, 1.5] as [Float], shape: [1, 3, 2])
    let teacher = Tensor([1.0, -2.0, 0.5, 0.3, -1.0, 2.5] as [Float], shape: [1, 3, 2])
    let temperature = 2.0
    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    var expected = 0.0
    for (s, t) in zip(student.toArray(Float.self), teacher.toArray(Float.self)) {
      let p = sigmoid(Double(t) / temperature), q = sigmoid(Double(s) / temperature)
      expected += p * log(p / q) + (1 - p) * log((1 - p) / (1 - q))
    }
    // Summed over classes, averaged over the 3 locations, scaled by T².
    expected *= temperature * temperature / 3
    let loss = Distiller.logitDistillation(student: student, teacher: teacher, temperature: temperature).doubleValue()
    #expect(abs(loss - expected) < 1e-6, "\(loss) vs \(expected)")
    #expect(abs(Distiller.logitDistillation(student: teacher, teacher: teacher, temperature: 1).doubleValue()) < 1e-6)
  }

  @Test func logitGradientReachesTheStudentOnly() {
    let student = Tensor([0.5, -1.0, 2.0, 0.0] as [Float], shape: [1, 2, 2]).requiringGrad()
    let teacher = Tensor([1.0, -2.0, 0.5, 0.3] as [Float], shape: [1, 2, 2])
    Distiller.logitDistillation(student: student, teacher: teacher, temperature: 1).backward()
    // d/ds of KL(σ(t) ‖ σ(s)) = (σ(s) − σ(t)) / locations.
    let s = student.toArray(Float.self).map(Double.init), t = teacher.toArray(Float.self).map(Double.init)
    let expected = zip(s, t).map { (1 / (1 + exp(-$0)) - 1 / (1 + exp(-$1))) / 2 }
    let grad = student.grad!.toArray(Float.self).map(Double.init)
    #expect(zip(grad, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(grad) vs \(expected)")
    #expect(teacher.grad == nil)
  }

  @Test func objectMaskCoversGrownBoxes() {
    // One 8×8 box at (8, 8) on a stride-4 map of 8×8 cells (centres at 2, 6, 10, ...).
    var target = Instances(imageSize: (32, 32))
    target["boxes"] = Tensor([8, 8, 16, 16] as [Float], shape: [1, 4])
    let tight = Distiller.objectMask(targets: [target], stride: 4, height: 8, width: 8, margin: 0, device: .cpu)
    #expect(tight.shape == [1, 1, 8, 8])
    let cells = tight[0, 0].toArray(Float.self)
    // Centres 10 and 14 lie in [8, 16]: cells 2 and 3 in each direction.
    let inside = (0..<64).filter { cells[$0] == 1 }
    #expect(inside == [2 * 8 + 2, 2 * 8 + 3, 3 * 8 + 2, 3 * 8 + 3])
    // Grown by half its size on each side: [4, 20] → centres 6, 10, 14, 18 → cells 1...4.
    let grown = Distiller.objectMask(targets: [target], stride: 4, height: 8, width: 8, margin: 0.5, device: .cpu)
    #expect(grown.sum().doubleValue() == 16)
    let empty = Distiller.objectMask(targets: [Instances(imageSize: (32, 32))], stride: 4, height: 8, width: 8, margin: 0.5, device: .cpu)
    #expect(empty.sum().doubleValue() == 0)
  }

  /// With the adaptation set to the identity, feature imitation is the plain mean squared
  /// difference (over everything, or over the object cells).
  @Test func featureImitationIsTheMeanSquaredDifference() {
    let shapes = [FeatureMapShape(channels: 2, stride: 4)]
    for region in [FeatureImitationConfiguration.Region.all, .objects] {
      let configuration = DistillationConfiguration(losses: .init(features: .init(weight: 2, region: region, objectMargin: 0), logits: nil))
      let distiller = Distiller(configuration, student: shapes, teacher: shapes, generator: Generator(seed: 1))
      let (name, weight) = distiller.namedParameters().first { $0.0.hasSuffix("weight") }!
      #expect(name == "adaptations.0.weight")
      withNoGrad {
        weight.copy(from: Tensor([1, 0, 0, 1] as [Float], shape: [2, 2, 1, 1]))
        distiller.namedParameters().first { $0.0.hasSuffix("bias") }!.1.copy(from: Tensor.zeros([2]))
      }
      let student = Tensor.rand([1, 2, 8, 8], generator: Generator(seed: 2))
      let teacher = Tensor.rand([1, 2, 8, 8], generator: Generator(seed: 3))
      var target = Instances(imageSize: (32, 32))
      target["boxes"] = Tensor([8, 8, 16, 16] as [Float], shape: [1, 4])
      let batch = ImageBatch(tensor: Tensor.zeros([1, 3, 32, 32]), imageSizes: [(32, 32)], originalSizes: [(32, 32)])
      let pass = TrainingPass(losses: [:], batch: batch, targets: [target], features: [student], classLogits: nil)
      let loss = distiller.losses(student: pass, teacher: TeacherOutputs(features: [teacher], classLogits: nil))["distill_features"]!
      let squared = (student - teacher).squared()
      let expected: Double
      switch region {
      case .all: expected = squared.mean().doubleValue()
      case .objects: expected = squared[0, .all, 2..<4, 2..<4].mean().doubleValue()
      }
      #expect(abs(loss.doubleValue() - 2 * expected) < 1e-6, "\(region): \(loss.doubleValue()) vs \(2 * expected)")
    }
  }
}
