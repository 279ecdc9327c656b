import Foundation
import Testing
import Torch

@testable import Detection

/// YOLOv3's training losses against mmdetection 3.3.0's `YOLOV3Head.loss_by_feat` on the same
/// prediction maps and ground truths (tools/make_mmdet_fixtures.py, case `yolov3-loss`: the head
/// settings of `yolov3_d53_8xb8-ms-608-273e_coco` with 3 classes, three images padded to
/// 256 × 192, ground truths sharing cells, on every level and leaving ignored anchors, one image
/// without any). The maps go straight into the loss, so this checks the anchors, the grid
/// assignment, the box coding and the four summed losses with their weights.
@Suite struct YOLOV3LossTests {
  struct Fixture: Decodable {
    struct Target: Decodable {
      var boxes: [[Double]]
      var labels: [Int]
    }
    var imageSize: [Int]
    var classes: Int
    var targets: [Target]
    var losses: [String: Double]
    var foreground: Int
    var background: Int
    enum CodingKeys: String, CodingKey {
      case imageSize = "image_size"
      case classes, targets, losses, foreground, background
    }
  }

  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("CLITests/Fixtures/mmdet")

  /// The head for the fixture: default settings, 4-channel maps at strides 8, 16 and 32.
  static func head(classes: Int) -> YOLOV3Head {
    let levels = [8, 16, 32].map { FeatureMapShape(channels: 4, stride: $0) }
    return YOLOV3Head(configuration: YOLOV3HeadConfiguration(), levels: levels, classes: classes, generator: Generator(seed: 0))
  }

  @Test func lossesEqualMMDetections() throws {
    let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("yolov3-loss.json")))
    let maps = try SafeTensors.read(contentsOf: Self.fixtures.appendingPathComponent("yolov3-loss.safetensors"))
    let head = Self.head(classes: fixture.classes)
    let attributes = 5 + fixture.classes
    // mmdetection's maps, level 0 the coarsest, flattened as the head flattens its own.
    let predictions = try (0..<3).map { k -> Tensor in
      let map = try #require(maps["pred_maps.\(k)"])
      return map.permuted(0, 2, 3, 1).reshaped([map.shape[0], -1, attributes])
    }
    let (height, width) = (fixture.imageSize[0], fixture.imageSize[1])
    let featureSizes = [8, 16, 32].map { (height: height / $0, width: width / $0) }
    let targets = fixture.targets.map { target in
      Instances(
        imageSize: (height, width),
        fields: [
          "boxes": Tensor(target.boxes.flatMap { $0.map { Float($0) } }, shape: [target.boxes.count, 4]),
          "labels": Tensor(target.labels.map { Int64($0) }, shape: [target.labels.count]),
        ])
    }
    let losses = head.losses(predictions: predictions, featureSizes: featureSizes, targets: targets)
    let pairs = [("classification", "loss_cls"), ("objectness", "loss_conf"), ("box_center", "loss_xy"), ("box_size", "loss_wh")]
    for (ours, theirs) in pairs {
      let value = try #require(losses[ours]).doubleValue()
      let expected = try #require(fixture.losses[theirs])
      #expect(abs(value - expected) <= 1e-4 * abs(expected), "\(ours): \(value), mmdetection's \(theirs) \(expected)")
    }

    // The assignment itself: foreground and background counts over the three images.
    let (anchors, strides) = head.anchorsAndStrides(featureSizes: featureSizes, device: .cpu)
    var foreground = 0.0
    var background = 0.0
    for target in targets {
      let (_, f, b) = head.targetsOfImage(
        groundTruth: target.boxes!.tensor, labels: target["labels"]!, anchors: anchors, strides: strides, featureSizes: featureSizes)
      foreground += f.sum().doubleValue()
      background += b.sum().doubleValue()
    }
    #expect(Int(foreground) == fixture.foreground)
    #expect(Int(background) == fixture.background)
  }

  /// An ignored anchor: its IoU with a ground truth is above the background threshold but it is
  /// not in the ground truth's cell, so it is neither foreground nor background.
  @Test func anchorsBetweenThresholdsOutsideTheCellAreIgnored() {
    let assigner = GridAssigner(foregroundIoU: 0.5, backgroundIoU: 0.5, minForegroundIoU: 0)
    // Two anchors of 20 × 20: the first holds the box's centre, the second overlaps it by 0.6.
    let anchors = Tensor([0, 0, 20, 20, 4, 0, 24, 20] as [Float], shape: [2, 4])
    let responsible = Tensor([true, false], shape: [2])
    let box = Tensor([1, 0, 21, 20] as [Float], shape: [1, 4])
    let assigned = assigner(anchors: anchors, responsible: responsible, groundTruth: box).toArray(Int64.self)
    #expect(assigned == [0, GridAssigner.ignored])
  }
}
