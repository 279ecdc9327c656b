import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// FCOS against the fixture of tools/make_fcos_fixtures.py (torchvision's `fcos_resnet50_fpn`
/// with hashed weights, FrozenBN and three trainable stages).
@Suite(.serialized) struct FCOSParityTests {
  static let fixtureName = "fcos_resnet50_fpn"

  static func makeModel() throws -> (DenseDetector, DenseParityFixture) {
    let fixture = try DenseParityFixture.load(fixtureName)
    var config = DetectorConfiguration.torchvisionFCOS()
    config.transform.minSize = [fixture.min_size]
    config.transform.maxSize = fixture.max_size
    let model = DenseDetector(config)
    try model.load(stateDict: hashedWeights(for: model))
    return (model, fixture)
  }

  @Test func stateDictKeysAndShapesMatchTorchvision() throws {
    let manifest = try JSONDecoder().decode(
      [ManifestEntry].self, from: Data(contentsOf: fixtureURL("\(Self.fixtureName)_state_dict.json")))
    let model = DenseDetector(.torchvisionFCOS())
    let ours = model.stateDict().map { ManifestEntry(key: $0.key, shape: $0.value.shape) }.sorted { $0.key < $1.key }
    #expect(ours.count == manifest.count)
    let differences = zip(ours, manifest).filter { $0 != $1 }.prefix(5).map { "\($0.key) \($0.shape) vs \($1.key) \($1.shape)" }
    #expect(differences.isEmpty, "\(differences)")
  }

  @Test func detectionsMatchTorchvision() throws {
    let (model, fixture) = try Self.makeModel()
    model.eval()
    let images = fixture.images
    let (batch, _) = model.configuration.transform(images)
    #expect(batch.tensor.shape == fixture.batch_shape)
    let features = withNoGrad { model.backbone(batch.tensor) }
    for (level, name) in ["0", "1", "2", "p6", "p7"].enumerated() {
      let sum = features[level].to(.float64).sum().doubleValue()
      let expected = fixture.feature_sums[name]!
      #expect(Swift.abs(sum - expected) <= 1e-4 * Swift.abs(expected), "level \(name): \(sum) vs \(expected)")
    }
    let detections = model.detect(images)
    for (i, expected) in fixture.detections.enumerated() {
      #expect(detections[i].count == expected.labels.count, "image \(i) detection count")
      let match = detectionsMatch(detections[i], expected)
      #expect(match.labels, "image \(i) labels")
      #expect(match.boxes, "image \(i) boxes")
      #expect(match.scores, "image \(i) scores")
    }
  }

  @Test func lossesMatchTorchvision() throws {
    let (model, fixture) = try Self.makeModel()
    model.train()
    for set in fixture.targets.indices {
      let losses = withNoGrad { model.losses(fixture.images, targets: fixture.instances(set)) }
      #expect(Set(losses.keys) == Set(fixture.losses[set].keys))
      for (name, expected) in fixture.losses[set] {
        let got = losses[name]!.doubleValue()
        let matches = Swift.abs(got - expected) <= 1e-4 * Swift.abs(expected) + 1e-6
        #expect(matches, "target set \(set) \(name): \(got) vs \(expected)")
      }
    }
  }

  @Test func centernessIsOneAtTheCentreAndFallsTowardsEdges() {
    let distances = Tensor([Float(2), 3, 2, 3, 1, 3, 3, 1], shape: [2, 4])
    let values = FCOSHead.centerness(of: distances).to(.float64).toArray(Double.self)
    let expected: [Double] = [1, (1.0 / 3 * 1.0 / 3).squareRoot()]
    let matches = zip(values, expected).allSatisfy { Swift.abs($0 - $1) < 1e-6 }
    #expect(matches, "\(values)")
  }
}

func smallFCOSConfiguration() -> DetectorConfiguration {
  var head = FCOSHeadConfiguration()
  // Smaller ranges so 96-pixel scenes use several levels.
  head.regressionRangeLower = 2
  head.regressionRangeUpper = 4
  var config = DetectorConfiguration.torchvisionFCOS(classes: 3)
  config.head = .fcos(head)
  config.backbone = .resnet(ResNet.Configuration(depth: 18, norm: .frozenBatchNorm, frozenStages: 0, outFeatures: [.c3, .c4, .c5]))
  config.neck = .fpn(FPNConfiguration(channels: 64, extraLevels: .p6p7))
  config.transform = ImageTransform(minSize: [96], maxSize: 96)
  config.seed = 3
  return config
}

@Suite(.serialized) struct FCOSTrainingTests {
  @Test func lossesFallOnSyntheticScenes() {
    Torch.threadCount = 2
    let model = DenseDetector(smallFCOSConfiguration())
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 1)
    let optimizer = SGD(
      groups: ParameterGroup.standard(for: model, learningRate: 0.01, weightDecay: 1e-4), momentum: 0.9)
    model.train()
    var totals: [Double] = []
    for _ in 0..<10 {
      let losses = model.losses(images, targets: targets)
      #expect(Set(losses.keys) == ["classification", "bbox_regression", "bbox_ctrness"])
      let total = losses.values.dropFirst().reduce(losses.values.first!, +)
      optimizer.zeroGradients()
      total.backward()
      optimizer.step()
      totals.append(total.doubleValue())
    }
    let finite = totals.allSatisfy { $0.isFinite }
    #expect(finite)
    let first = totals.prefix(2).reduce(0, +) / 2
    let last = totals.suffix(2).reduce(0, +) / 2
    #expect(last < first * 0.92, "losses: \(totals)")
  }

  @Test func imagesWithoutObjectsHaveOnlyClassificationLoss() {
    let model = DenseDetector(smallFCOSConfiguration())
    let (images, _) = rectangleScenes(count: 1, size: 96, seed: 4)
    let empty = Instances(imageSize: (96, 96), fields: ["boxes": Tensor.zeros([0, 4]), "labels": Tensor.zeros([0], dtype: .int64)])
    let losses = model.losses(images, targets: [empty])
    let boxLoss = losses["bbox_regression"]!.doubleValue()
    let centerness = losses["bbox_ctrness"]!.doubleValue()
    let classification = losses["classification"]!.doubleValue()
    #expect(boxLoss == 0 && centerness == 0)
    #expect(classification > 0 && classification.isFinite)
  }

  @Test func evalModeDetectsInOriginalPixels() {
    let model = DenseDetector(smallFCOSConfiguration())
    model.eval()
    model.inference.scoreThreshold = 0
    model.inference.detectionsPerImage = 20
    let (images, _) = rectangleScenes(count: 2, size: 96, seed: 2)
    let detections = model.detect([images[0], images[1][.all, 0..<80, 0..<64]])
    #expect(detections.count == 2)
    #expect(detections[1].imageSize.height == 80 && detections[1].imageSize.width == 64)
    for d in detections {
      #expect(d.count == 20)
      let boxes = d.boxes!.tensor
      let insideWidth = boxes[.all, 2].max().doubleValue() <= Double(d.imageSize.width) + 1e-3
      #expect(insideWidth)
      let labels = d["labels"]!.toArray(Int.self)
      #expect(labels.allSatisfy { (0..<3).contains($0) })
    }
    model.inference.scoreThreshold = 1
    let none = model.detect([images[0]])
    #expect(none[0].count == 0)
  }

  @Test func configurationRoundTripsThroughJSON() throws {
    let config = DetectorConfiguration.torchvisionFCOS(classes: 21)
    let decoded = try JSONDecoder().decode(DetectorConfiguration.self, from: JSONEncoder().encode(config))
    #expect(decoded == config)
    guard case .fcos(let head)? = decoded.head else { Issue.record("not an FCOS head"); return }
    #expect(decoded.classes == 21 && head.norm == .groupNorm && head.nmsThreshold == 0.6)
  }
}
