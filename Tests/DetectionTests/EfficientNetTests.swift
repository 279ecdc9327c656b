import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// The EfficientNet backbone against torchvision (fixtures of tools/make_efficientnet_fixtures.py).
@Suite(.serialized) struct EfficientNetTests {
  struct Manifest: Decodable {
    var eps: Double
    var momentum: Double
    var keys: [ManifestEntry]
  }

  static func manifests() throws -> [String: Manifest] {
    try JSONDecoder().decode([String: Manifest].self, from: Data(contentsOf: fixtureURL("efficientnet_state_dicts.json")))
  }

  /// Every stage built (`c5` is `features.7`).
  static func fullConfiguration(_ variant: EfficientNetVariant) -> EfficientNetConfiguration {
    EfficientNetConfiguration(variant: variant, outFeatures: [.c2, .c3, .c4, .c5])
  }

  @Test(arguments: EfficientNetVariant.allCases)
  func stateDictKeysShapesAndNormsMatchTorchvision(_ variant: EfficientNetVariant) throws {
    let manifest = try #require(try Self.manifests()[variant.rawValue])
    // SimpleDet builds `features.0` … `features.7`; the head convolution and the classifier are
    // what an ImageNet state dict holds beyond it.
    let expected = manifest.keys.filter { entry in
      let parts = entry.key.split(separator: ".")
      return parts[0] == "features" && (Int(parts[1]) ?? 8) <= 7
    }
    let net = EfficientNet(Self.fullConfiguration(variant))
    let ours = net.stateDict().map { ManifestEntry(key: $0.key, shape: $0.value.shape) }.sorted { $0.key < $1.key }
    #expect(ours.count == expected.count)
    let differences = zip(ours, expected).filter { $0 != $1 }.prefix(5).map { "\($0.key) \($0.shape) vs \($1.key) \($1.shape)" }
    #expect(differences.isEmpty, "\(differences)")
    let norms = net.namedModules().compactMap { $0.1 as? BatchNorm2d }
    #expect(!norms.isEmpty && norms.allSatisfy { $0.epsilon == manifest.eps && $0.momentum == manifest.momentum })
  }

  /// torchvision's efficientnet_b0 with hashed weights and batch-norm statistics from a forward
  /// pass: the stride 4, 8, 16 and 32 maps of an odd-sized batch.
  @Test func b0FeaturesMatchTorchvision() throws {
    let fixture = try readWeightFile(fixtureURL("efficientnet_b0_features.safetensors"))
    let net = EfficientNet(Self.fullConfiguration(.b0))
    var weights = hashedWeights(for: net)
    for (name, tensor) in fixture where name.hasPrefix("features.") { weights[name] = tensor }
    try net.load(stateDict: weights)
    net.eval()
    let input = try #require(fixture["input"])
    let outputs = withNoGrad { net(input) }
    for (output, name) in zip(outputs, ["c2", "c3", "c4", "c5"]) {
      let expected = try #require(fixture[name])
      #expect(output.shape == expected.shape, "\(name)")
      let difference = (output - expected).abs().max().doubleValue()
      let scale = expected.abs().max().doubleValue()
      print("EfficientNet-B0 \(name) \(expected.shape): max |difference| \(difference), max |value| \(scale)")
      #expect(difference <= 1e-4 * scale, "\(name): max |difference| \(difference), max |value| \(scale)")
    }
  }

  /// TensorFlow's SAME padding: ceil(size / stride) outputs, the odd pixel at the bottom and right.
  @Test func samePaddingPadsAsTensorFlow() {
    let g = Generator(seed: 3)
    let layer = ConvNormActivation(
      2, 4, kernelSize: 3, stride: 2, padding: .same, norm: FrozenBatchNorm2d(4), activates: false, generator: g)
    let x = Tensor.randn([1, 2, 7, 8], generator: g)
    let y = withNoGrad { layer(x) }
    #expect(y.shape == [1, 4, 4, 4])
    // Height 7: (4 − 1)·2 + 3 − 7 = 2 rows, one on each side; width 8: 1 column, on the right.
    let expected = withNoGrad { Functional.conv2d(x.padded([0, 1, 1, 1]), weight: layer.conv.weight, bias: nil, stride: (2, 2)) }
    #expect((y - expected).abs().max().doubleValue() < 1e-5)
  }

  @Test func stochasticDepthDropsWholeImagesInTrainingOnly() {
    let x = Tensor.ones([256, 2, 3, 3])
    let y = stochasticDepth(x, probability: 0.25, training: true, generator: Generator(seed: 5))
    let values = Set(y.toArray(Float.self))
    #expect(values.isSubset(of: [0, Float(1 / 0.75)]) && values.count == 2)
    let perImage = y.reshaped([256, -1])
    #expect((perImage.max(axes: [1]) - perImage.min(axes: [1])).abs().max().doubleValue() == 0)
    #expect(stochasticDepth(x, probability: 0.25, training: false, generator: nil) === x)
  }

  @Test func blocksDropMoreTowardsTheEnd() {
    let stages = EfficientNetConfiguration().stages
    let probabilities = stages.joined().map(\.stochasticDepth)
    #expect(probabilities.count == 16 && probabilities.first == 0)
    #expect(Swift.abs(probabilities[15] - 0.2 * 15 / 16) < 1e-12)
    #expect(zip(probabilities, probabilities.dropFirst()).allSatisfy { $0 < $1 })
  }

  @Test func frozenStagesCountTorchvisionFeatures() {
    var c = EfficientNetConfiguration()
    c.frozenStages = 2
    let net = EfficientNet(c)
    let parameters = net.namedParameters()
    #expect(parameters.filter { $0.0.hasPrefix("features.0.") || $0.0.hasPrefix("features.1.") }.allSatisfy { !$0.1.requiresGrad })
    #expect(parameters.filter { $0.0.hasPrefix("features.2.") }.allSatisfy { $0.1.requiresGrad })
  }

  /// torchvision's names are the detector's under `backbone.body.` (the prefix `model.weights`
  /// takes for an ImageNet classifier): every statistic of the fixture has its place and shape.
  @Test func torchvisionNamesAreBackboneNames() throws {
    var config = DetectorConfiguration(head: .retinaNet(RetinaNetHeadConfiguration()))
    config.backbone = .efficientNet(EfficientNetConfiguration())
    let model = config.makeDetector()
    let state = model.stateDict()
    let fixture = try readWeightFile(fixtureURL("efficientnet_b0_features.safetensors")).filter { $0.key.hasPrefix("features.") }
    #expect(fixture.count == 96)  // 48 batch norms, mean and variance each
    let misfits = fixture.filter { state["backbone.body." + $0.key]?.shape != $0.value.shape }.map(\.key)
    #expect(misfits.isEmpty, "\(misfits.prefix(5))")
    let report = try model.load(stateDict: Dictionary(uniqueKeysWithValues: fixture.map { ("backbone.body." + $0.key, $0.value) }), strict: false)
    #expect(report.unexpected.isEmpty)
  }
}
