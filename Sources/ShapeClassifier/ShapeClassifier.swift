import NN
import Torch

/// A small convolutional classifier: three conv–BN–ReLU stages, global average pooling and a
/// linear layer.
public final class ShapeClassifierNet: Module, UnaryLayer {
  let features: Sequential
  let classifier: Linear

  public init(classes: Int, generator: Generator? = nil) {
    func stage(_ input: Int, _ output: Int) -> [any UnaryLayer] {
      [Conv2d(input, output, kernelSize: 3, padding: 1, bias: false, generator: generator), BatchNorm2d(output), Activation.relu()]
    }
    features = Sequential(
      stage(1, 16) + [MaxPool2d(kernelSize: 2)] + stage(16, 32) + [MaxPool2d(kernelSize: 2)] + stage(32, 64)
        + [AdaptiveAvgPool2d(outputSize: (1, 1)), Flatten()])
    classifier = Linear(64, classes, generator: generator)
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { classifier(features(x)) }
}

/// How a training run went.
public struct ShapeTrainingReport: Sendable {
  public var steps: Int
  public var finalLoss: Double
  public var heldOutAccuracy: Double
  public var seconds: Double
  public var losses: [Double]
}

/// Trains `ShapeClassifierNet` on `SyntheticShapes` with SGD, warm-up and a cosine schedule, then
/// measures accuracy on held-out images drawn from a different seed.
public func trainShapeClassifier(
  steps: Int = 300, batchSize: Int = 32, learningRate: Double = 0.1, seed: UInt64 = 0,
  heldOutImages: Int = 512, log: ((Int, Double, Double) -> Void)? = nil
) -> ShapeTrainingReport {
  let clock = ContinuousClock()
  let start = clock.now
  let generator = Generator(seed: seed)
  let model = ShapeClassifierNet(classes: SyntheticShapes.classNames.count, generator: generator)
  let data = SyntheticShapes(seed: seed &+ 1)
  let optimizer = SGD(
    groups: ParameterGroup.standard(for: model, learningRate: learningRate, weightDecay: 1e-4), momentum: 0.9)
  let schedule = LearningRateSchedule(
    warmupMethod: .linear, warmupIterations: steps / 10, warmupFactor: 0.1,
    decay: .cosine(maxIterations: steps, finalFactor: 0.01))

  var losses: [Double] = []
  model.train()
  for step in 0..<steps {
    optimizer.scaleLearningRate(by: schedule.factor(at: step))
    let (images, labels) = data.batch(batchSize)
    let loss = Functional.crossEntropy(model(images), targets: labels)
    optimizer.zeroGradients()
    loss.backward()
    optimizer.step()
    let value = loss.doubleValue()
    losses.append(value)
    log?(step, value, optimizer.groups[0].learningRate)
  }

  model.eval()
  let test = SyntheticShapes(seed: seed &+ 2).batch(heldOutImages)
  let accuracy = withNoGrad {
    let predicted = model(test.images).argmax(axis: 1)
    return (predicted .== test.labels).to(.float32).mean().doubleValue()
  }
  let elapsed = clock.now - start
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  return ShapeTrainingReport(
    steps: steps, finalLoss: losses.suffix(20).reduce(0, +) / Double(Swift.min(20, losses.count)),
    heldOutAccuracy: accuracy, seconds: seconds, losses: losses)
}
