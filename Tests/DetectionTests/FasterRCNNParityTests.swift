import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// The fixture written by tools/make_fasterrcnn_fixtures.py with torchvision.
struct ParityFixture: Decodable {
  struct Detections: Decodable {
    var boxes: [[Double]]
    var scores: [Double]
    var labels: [Int]
  }
  var torchvision: String
  var min_size: Int
  var max_size: Int
  var image_shapes: [[Int]]
  var image_seeds: [Int]
  var batch_shape: [Int]
  var image_sizes: [[Int]]
  var feature_sums: [String: Double]
  var proposals: [[[Double]]]
  var detections: [Detections]
}

struct ManifestEntry: Decodable, Equatable {
  var key: String
  var shape: [Int]
}

func fixtureURL(_ name: String) -> URL {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
}

/// The same integer-hash values as the fixture script: exact int64 arithmetic, then one rounding.
func hashedUniform(_ n: Int, _ k: Int) -> Tensor {
  let i = Tensor.arange(n, dtype: .int64)
  let h = (i * 2_654_435_761 + k * 40503 + 12345) % 4_294_967_296
  return h.to(.float64) / 4_294_967_296.0 * 2.0 - 1.0
}

func hashedWeights(for model: Module) -> [String: Tensor] {
  let state = model.stateDict()
  var weights: [String: Tensor] = [:]
  for (k, key) in state.keys.sorted().enumerated() {
    let shape = state[key]!.shape
    if key.hasSuffix("num_batches_tracked") {
      weights[key] = Tensor.zeros([], dtype: .int64)
      continue
    }
    let u = hashedUniform(shape.reduce(1, *), k)
    let v: Tensor
    if key.hasSuffix("running_var") {
      v = 0.75 + 0.25 * u
    } else if key.hasSuffix("running_mean") {
      v = 0.1 * u
    } else if shape.count == 1 && key.hasSuffix("weight") {
      v = 1.0 + 0.1 * u
    } else if key.hasSuffix("bias") {
      v = 0.05 * u
    } else {
      let fanIn = shape[1] * shape.dropFirst(2).reduce(1, *)
      v = u * (6.0 / Double(fanIn)).squareRoot()
    }
    weights[key] = v.to(.float32).reshaped(shape)
  }
  return weights
}

func hashedImage(_ shape: [Int], seed: Int) -> Tensor {
  ((hashedUniform(shape.reduce(1, *), seed) + 1.0) * 0.5).to(.float32).reshaped(shape)
}

func rows(_ t: Tensor) -> [[Double]] {
  let flat = t.to(.float64).contiguous().toArray(Double.self)
  let width = t.shape[1]
  return (0..<t.shape[0]).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
}

func close(_ a: [[Double]], _ b: [[Double]], relative: Double, absolute: Double) -> Bool {
  a.count == b.count
    && zip(a, b).allSatisfy { x, y in
      zip(x, y).allSatisfy { Swift.abs($0 - $1) <= absolute + relative * Swift.abs($1) }
    }
}

/// The torchvision models the parity tests cover, by fixture name.
enum TorchvisionVariant: String, CaseIterable, Sendable {
  case v1 = "fasterrcnn_resnet50_fpn"
  case v2 = "fasterrcnn_resnet50_fpn_v2"

  var configuration: DetectorConfiguration {
    switch self {
    case .v1: .torchvisionFasterRCNN()
    case .v2: .torchvisionFasterRCNNv2()
    }
  }
}

@Suite(.serialized) struct FasterRCNNParityTests {
  static func makeModel(_ variant: TorchvisionVariant) throws -> (GeneralizedRCNN, ParityFixture) {
    let fixture = try JSONDecoder().decode(
      ParityFixture.self, from: Data(contentsOf: fixtureURL("\(variant.rawValue)_parity.json")))
    var config = variant.configuration
    config.transform.minSize = [fixture.min_size]
    config.transform.maxSize = fixture.max_size
    config.roiHeads?.standard?.scoreThreshold = 0
    let model = GeneralizedRCNN(config)
    try model.load(stateDict: hashedWeights(for: model))
    model.eval()
    return (model, fixture)
  }

  @Test(arguments: TorchvisionVariant.allCases)
  func stateDictKeysAndShapesMatchTorchvision(variant: TorchvisionVariant) throws {
    let manifest = try JSONDecoder().decode(
      [ManifestEntry].self, from: Data(contentsOf: fixtureURL("\(variant.rawValue)_state_dict.json")))
    let model = GeneralizedRCNN(variant.configuration)
    let ours = model.stateDict().map { ManifestEntry(key: $0.key, shape: $0.value.shape) }.sorted { $0.key < $1.key }
    #expect(ours.count == manifest.count)
    let differences = zip(ours, manifest).filter { $0 != $1 }.prefix(5).map { "\($0.key) \($0.shape) vs \($1.key) \($1.shape)" }
    #expect(differences.isEmpty, "\(differences)")
  }

  @Test func frozenStagesFollowTorchvisionsDefault() {
    let model = GeneralizedRCNN(.torchvisionFasterRCNN())
    let trainable = model.namedParameters().filter { $0.1.requiresGrad }.map(\.0)
    #expect(!trainable.contains { $0.hasPrefix("backbone.body.conv1") || $0.hasPrefix("backbone.body.layer1.") })
    #expect(trainable.contains("backbone.body.layer2.0.conv1.weight"))
    #expect(trainable.contains("roi_heads.box_predictor.cls_score.weight"))
  }

  @Test(arguments: TorchvisionVariant.allCases)
  func proposalsAndDetectionsMatchTorchvision(variant: TorchvisionVariant) throws {
    let (model, fixture) = try Self.makeModel(variant)
    let images = zip(fixture.image_shapes, fixture.image_seeds).map { hashedImage($0, seed: $1) }

    let (batch, proposals) = model.proposals(images)
    #expect(batch.tensor.shape == fixture.batch_shape)
    #expect(batch.imageSizes.map { [$0.height, $0.width] } == fixture.image_sizes)

    let features = withNoGrad { model.backbone(batch.tensor) }
    for (level, name) in ["0", "1", "2", "3", "pool"].enumerated() {
      let sum = features[level].to(.float64).sum().doubleValue()
      let expected = fixture.feature_sums[name]!
      #expect(Swift.abs(sum - expected) <= 1e-4 * Swift.abs(expected), "level \(name): \(sum) vs \(expected)")
    }
    for (i, expected) in fixture.proposals.enumerated() {
      let got = rows(proposals[i].boxes)
      #expect(got.count == expected.count, "image \(i) proposal count")
      // Proposals with equal objectness (sigmoid saturates at 1 in float32) come in an order
      // torchvision leaves unspecified, so the proposals are compared as sets.
      let lexicographic: ([Double], [Double]) -> Bool = { $0.lexicographicallyPrecedes($1) }
      let (a, b) = (got.sorted(by: lexicographic), expected.sorted(by: lexicographic))
      let firstDifference = a.indices.first { $0 >= b.count || !close([a[$0]], [b[$0]], relative: 1e-4, absolute: 1e-3) }
      #expect(firstDifference == nil, "image \(i): proposal \(firstDifference ?? -1) (in sorted order) differs")
    }
    let detections = model.detect(images)
    for (i, expected) in fixture.detections.enumerated() {
      let d = detections[i]
      #expect(d["labels"]!.toArray(Int.self) == expected.labels, "image \(i) labels")
      let boxesMatch = close(rows(d.boxes!.tensor), expected.boxes, relative: 1e-4, absolute: 1e-3)
      #expect(boxesMatch, "image \(i) boxes")
      let scores = d["scores"]!.to(.float64).toArray(Double.self)
      let scoresMatch = close([scores], [expected.scores], relative: 1e-4, absolute: 1e-6)
      #expect(scoresMatch, "image \(i) scores")
    }
  }
}
