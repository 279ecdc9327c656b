import Testing
import ShapeClassifier
@testable import NN
@testable import Torch

@Suite(.serialized) struct EndToEndTests {
  @Test func smallCNNLearnsSyntheticShapes() {
    let report = trainShapeClassifier(steps: 150, seed: 7)
    let first = report.losses.prefix(10).reduce(0, +) / 10
    let last = report.losses.suffix(10).reduce(0, +) / 10
    #expect(first > 0.9, "an untrained 3-way classifier starts near ln 3")
    #expect(last < first / 5)
    #expect(report.heldOutAccuracy >= 0.95)
  }

  @Test func untrainedModelIsAtChance() {
    let model = ShapeClassifierNet(classes: 3, generator: Generator(seed: 1))
    model.eval()
    let test = SyntheticShapes(seed: 99).batch(300)
    let accuracy = withNoGrad {
      (model(test.images).argmax(axis: 1) .== test.labels).to(.float32).mean().doubleValue()
    }
    #expect(accuracy < 0.6, "the task must not be solvable without training")
  }

  @Test func sameSeedSameRun() {
    let a = trainShapeClassifier(steps: 5, batchSize: 8, seed: 3, heldOutImages: 16)
    let b = trainShapeClassifier(steps: 5, batchSize: 8, seed: 3, heldOutImages: 16)
    #expect(a.losses == b.losses)
  }
}
