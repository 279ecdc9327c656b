import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// The fixture written by tools/make_retinanet_fixtures.py (and tools/make_fcos_fixtures.py) with
/// torchvision: eval-mode detections and training-mode losses for fixed targets.
struct DenseParityFixture: Decodable {
  struct Target: Decodable {
    var boxes: [[Double]]
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
  var detections: [ParityFixture.Detections]
  var targets: [[Target]]
  var losses: [[String: Double]]

  static func load(_ name: String) throws -> DenseParityFixture {
    try JSONDecoder().decode(DenseParityFixture.self, from: Data(contentsOf: fixtureURL("\(name)_parity.json")))
  }

  var images: [Tensor] { zip(image_shapes, image_seeds).map { hashedImage($0, seed: $1) } }

  func instances(_ set: Int) -> [Instances] {
    zip(targets[set], image_shapes).map { target, shape in
      let boxes = Tensor(target.boxes.flatMap { $0.map { Float($0) } }).reshaped([-1, 4])
      let labels = Tensor(target.labels.map { Int64($0) }).reshaped([-1])
      return Instances(imageSize: (shape[1], shape[2]), fields: ["boxes": boxes, "labels": labels])
    }
  }
}

/// Whether two detection lists agree: equal labels, boxes and scores within tolerance.
///
/// Detections with exactly equal scores (float32 ties, common with hashed weights) come in an
/// order torchvision leaves unspecified, so both lists are first put in a canonical order: score
/// descending, then label, then box.
func detectionsMatch(_ d: Instances, _ expected: ParityFixture.Detections) -> (labels: Bool, boxes: Bool, scores: Bool) {
  var ours = canonicalOrder(
    scores: d["scores"]!.to(.float64).toArray(Double.self), labels: d["labels"]!.toArray(Int.self),
    boxes: rows(d.boxes!.tensor))
  var theirs = canonicalOrder(scores: expected.scores, labels: expected.labels, boxes: expected.boxes)
  // A tie at the detections-per-image cut keeps an unspecified member of the tied group, so the
  // group at the cut is left out on both sides.
  if let last = theirs.scores.last, ours.scores.count == theirs.scores.count {
    let kept = theirs.scores.filter { $0 > last * (1 + 1e-6) }.count
    ours = (Array(ours.scores.prefix(kept)), Array(ours.labels.prefix(kept)), Array(ours.boxes.prefix(kept)))
    theirs = (Array(theirs.scores.prefix(kept)), Array(theirs.labels.prefix(kept)), Array(theirs.boxes.prefix(kept)))
  }
  let labels = ours.labels == theirs.labels
  let boxes = close(ours.boxes, theirs.boxes, relative: 1e-3, absolute: 1e-3)
  let scores = close([ours.scores], [theirs.scores], relative: 1e-3, absolute: 1e-6)
  return (labels, boxes, scores)
}

func canonicalOrder(scores: [Double], labels: [Int], boxes: [[Double]]) -> (scores: [Double], labels: [Int], boxes: [[Double]]) {
  let order = scores.indices.sorted { a, b in
    if scores[a] != scores[b] { return scores[a] > scores[b] }
    if labels[a] != labels[b] { return labels[a] < labels[b] }
    return boxes[a].lexicographicallyPrecedes(boxes[b])
  }
  return (order.map { scores[$0] }, order.map { labels[$0] }, order.map { boxes[$0] })
}

/// The RetinaNet presets the parity tests cover, by fixture name.
enum RetinaNetVariant: String, CaseIterable, Sendable {
  case v1 = "retinanet_resnet50_fpn"
  case v2 = "retinanet_resnet50_fpn_v2"

  var configuration: DetectorConfiguration {
    switch self {
    case .v1: .torchvisionRetinaNet()
    case .v2: .torchvisionRetinaNetv2()
    }
  }
}

@Suite(.serialized) struct RetinaNetParityTests {
  static func makeModel(_ variant: RetinaNetVariant) throws -> (DenseDetector, DenseParityFixture) {
    let fixture = try DenseParityFixture.load(variant.rawValue)
    var config = variant.configuration
    config.transform.minSize = [fixture.min_size]
    config.transform.maxSize = fixture.max_size
    let model = DenseDetector(config)
    try model.load(stateDict: hashedWeights(for: model))
    return (model, fixture)
  }

  @Test(arguments: RetinaNetVariant.allCases)
  func stateDictKeysAndShapesMatchTorchvision(variant: RetinaNetVariant) throws {
    let manifest = try JSONDecoder().decode(
      [ManifestEntry].self, from: Data(contentsOf: fixtureURL("\(variant.rawValue)_state_dict.json")))
    let model = DenseDetector(variant.configuration)
    let ours = model.stateDict().map { ManifestEntry(key: $0.key, shape: $0.value.shape) }.sorted { $0.key < $1.key }
    #expect(ours.count == manifest.count)
    let differences = zip(ours, manifest).filter { $0 != $1 }.prefix(5).map { "\($0.key) \($0.shape) vs \($1.key) \($1.shape)" }
    #expect(differences.isEmpty, "\(differences)")
  }

  @Test func defaultsAreTorchvisions() throws {
    let model = DenseDetector(.torchvisionRetinaNet())
    let trainable = model.namedParameters().filter { $0.1.requiresGrad }.map(\.0)
    let stemFrozen = !trainable.contains { $0.hasPrefix("backbone.body.conv1") || $0.hasPrefix("backbone.body.layer1.") }
    #expect(stemFrozen)
    #expect(trainable.contains("backbone.body.layer2.0.conv1.weight"))
    let head = try #require(model.head as? RetinaNetHead)
    #expect(head.anchorGenerator.anchorsPerLocation == [9, 9, 9, 9, 9])
    // The classification bias encodes the prior probability 0.01: -log(99).
    let bias = head.classificationHead.clsLogits.bias!.mean().doubleValue()
    #expect(Swift.abs(bias + Foundation.log(99.0)) < 1e-5)
  }

  @Test(arguments: RetinaNetVariant.allCases)
  func detectionsMatchTorchvision(variant: RetinaNetVariant) throws {
    let (model, fixture) = try Self.makeModel(variant)
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

  @Test(arguments: RetinaNetVariant.allCases)
  func lossesMatchTorchvision(variant: RetinaNetVariant) throws {
    let (model, fixture) = try Self.makeModel(variant)
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
}
