import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// The fixtures written by tools/make_maskrcnn_fixtures.py with torchvision.
struct MaskParityFixture: Decodable {
  struct Detections: Decodable {
    var boxes: [[Double]]
    var scores: [Double]
    var labels: [Int]
    var mask_shape: [Int]
    var mask_sums: [Double]
  }
  var min_size: Int
  var max_size: Int
  var image_shapes: [[Int]]
  var image_seeds: [Int]
  var detections: [Detections]
}

struct MaskOperationsFixture: Decodable {
  var gt_seed: Int
  var gt_threshold: Double
  var boxes: [[Double]]
  var matched: [Int]
  var targets: [[[Double]]]
  var logits_seed: Int
  var gt_labels: [Int]
  var loss: Double
  var probabilities_seed: Int
  var paste_boxes: [[Double]]
  var pasted: [[[Double]]]
}

struct MaskTrainingFixture: Decodable {
  var boxes: [[[Double]]]
  var labels: [[Int]]
  var mask_seeds: [Int]
  var mask_threshold: Double
  var losses: [String: Double]
}

enum MaskRCNNVariant: String, CaseIterable, Sendable {
  case v1 = "maskrcnn_resnet50_fpn"
  case v2 = "maskrcnn_resnet50_fpn_v2"

  var configuration: DetectorConfiguration {
    switch self {
    case .v1: .torchvisionMaskRCNN()
    case .v2: .torchvisionMaskRCNNv2()
    }
  }
}

func flatten(_ nested: [[[Double]]]) -> [Double] { nested.flatMap { $0.flatMap { $0 } } }

func largestDifference(_ a: [Double], _ b: [Double]) -> Double {
  guard a.count == b.count else { return .infinity }
  return zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
}

@Suite(.serialized) struct MaskRCNNParityTests {
  static let operations: MaskOperationsFixture = try! JSONDecoder().decode(
    MaskOperationsFixture.self, from: Data(contentsOf: fixtureURL("mask_operations.json")))

  @Test(arguments: MaskRCNNVariant.allCases)
  func stateDictKeysAndShapesMatchTorchvision(variant: MaskRCNNVariant) throws {
    let manifest = try JSONDecoder().decode(
      [ManifestEntry].self, from: Data(contentsOf: fixtureURL("\(variant.rawValue)_state_dict.json")))
    let model = GeneralizedRCNN(variant.configuration)
    let ours = model.stateDict().map { ManifestEntry(key: $0.key, shape: $0.value.shape) }.sorted { $0.key < $1.key }
    #expect(ours.count == manifest.count)
    let differences = zip(ours, manifest).filter { $0 != $1 }.prefix(5).map { "\($0.key) \($0.shape) vs \($1.key) \($1.shape)" }
    #expect(differences.isEmpty, "\(differences)")
  }

  @Test func maskTargetsMatchTorchvision() {
    let f = Self.operations
    let masks = (hashedUniform(2 * 30 * 40, f.gt_seed) .> f.gt_threshold).to(.uint8).reshaped([2, 30, 40])
    let boxes = Tensor(f.boxes.flatMap { $0.map(Float.init) }, shape: [3, 4])
    let targets = MaskOperations.targets(masks: masks, boxes: boxes, matched: Tensor(f.matched), size: 8)
    let difference = largestDifference(targets.to(.float64).toArray(Double.self), flatten(f.targets))
    #expect(difference < 1e-5, "targets differ by \(difference)")

    let logits = (hashedUniform(3 * 4 * 8 * 8, f.logits_seed) * 3.0).to(.float32).reshaped([3, 4, 8, 8])
    let labels = Tensor(f.gt_labels).gathering(Tensor(f.matched))
    let loss = MaskOperations.loss(logits: logits, labels: labels, targets: targets).doubleValue()
    #expect(Swift.abs(loss - f.loss) < 1e-5, "loss \(loss) vs \(f.loss)")
  }

  @Test func pastedMasksMatchTorchvision() {
    let f = Self.operations
    let probabilities = ((hashedUniform(3 * 36, f.probabilities_seed) + 1.0) * 0.5).to(.float32).reshaped([3, 1, 6, 6])
    let boxes = Tensor(f.paste_boxes.flatMap { $0.map(Float.init) }, shape: [3, 4])
    let pasted = MaskOperations.paste(probabilities, boxes: boxes, height: 30, width: 40)
    #expect(pasted.shape == [3, 1, 30, 40])
    let difference = largestDifference(pasted.to(.float64).toArray(Double.self), flatten(f.pasted))
    #expect(difference < 1e-5, "pasted masks differ by \(difference)")
  }

  /// With samplers that take every candidate there is no random choice, so the training losses
  /// (Faster R-CNN's four and the mask loss) must equal torchvision's.
  @Test func trainingLossesMatchTorchvision() throws {
    let fixture = try JSONDecoder().decode(
      MaskTrainingFixture.self, from: Data(contentsOf: fixtureURL("maskrcnn_resnet50_fpn_training.json")))
    var config = DetectorConfiguration.torchvisionMaskRCNN()
    config.transform.minSize = [160]
    config.transform.maxSize = 256
    config.rpn?.batchSizePerImage = 100_000
    config.rpn?.positiveFraction = 1
    config.roiHeads?.standard?.batchSizePerImage = 100_000
    config.roiHeads?.standard?.positiveFraction = 1
    let model = GeneralizedRCNN(config)
    try model.load(stateDict: hashedWeights(for: model))
    model.train()
    let images = [hashedImage([3, 120, 150], seed: 1_000_001), hashedImage([3, 100, 90], seed: 1_000_002)]
    var targets: [Instances] = []
    for (i, image) in images.enumerated() {
      let (h, w) = (image.shape[1], image.shape[2])
      let boxes = fixture.boxes[i]
      let random = (hashedUniform(boxes.count * h * w, fixture.mask_seeds[i]) .> fixture.mask_threshold).to(.uint8)
        .reshaped([boxes.count, h, w])
      let inside = Tensor.zeros([boxes.count, h, w], dtype: .uint8)
      for (j, b) in boxes.enumerated() {
        inside[j, Int(b[1]) ..< Int(b[3]), Int(b[0]) ..< Int(b[2])] = Tensor(scalar: UInt8(1))
      }
      targets.append(
        Instances(
          imageSize: (h, w),
          fields: [
            "boxes": Tensor(boxes.flatMap { $0.map(Float.init) }, shape: [boxes.count, 4]),
            "labels": Tensor(fixture.labels[i]), "masks": random * inside,
          ]))
    }
    let losses = model.losses(images, targets: targets)
    #expect(Set(losses.keys) == Set(fixture.losses.keys))
    for (name, expected) in fixture.losses {
      let value = losses[name]?.doubleValue() ?? .nan
      #expect(Swift.abs(value - expected) <= 1e-4 * Swift.abs(expected) + 1e-6, "\(name): \(value) vs \(expected)")
    }
  }

  @Test(arguments: MaskRCNNVariant.allCases)
  func detectionsAndMasksMatchTorchvision(variant: MaskRCNNVariant) throws {
    let fixture = try JSONDecoder().decode(
      MaskParityFixture.self, from: Data(contentsOf: fixtureURL("\(variant.rawValue)_parity.json")))
    var config = variant.configuration
    config.transform.minSize = [fixture.min_size]
    config.transform.maxSize = fixture.max_size
    config.roiHeads?.standard?.scoreThreshold = 0
    let model = GeneralizedRCNN(config)
    try model.load(stateDict: hashedWeights(for: model))
    model.eval()
    let images = zip(fixture.image_shapes, fixture.image_seeds).map { hashedImage($0, seed: $1) }
    let detections = model.detect(images)
    for (i, expected) in fixture.detections.enumerated() {
      let d = detections[i]
      #expect(d["labels"]!.toArray(Int.self) == expected.labels, "image \(i) labels")
      let boxesMatch = close(rows(d.boxes!.tensor), expected.boxes, relative: 1e-4, absolute: 1e-3)
      #expect(boxesMatch, "image \(i) boxes")
      let masks = d["masks"]!
      #expect(masks.shape == expected.mask_shape)
      let sums = masks.to(.float64).sum(axes: [1, 2, 3]).toArray(Double.self)
      let sumsMatch = close([sums], [expected.mask_sums], relative: 1e-3, absolute: 1e-2)
      #expect(sumsMatch, "image \(i) mask sums")
    }
  }
}
