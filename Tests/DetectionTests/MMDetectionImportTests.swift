import Foundation
import NN
import Testing
import Torch

@testable import Detection

/// Genuine mmdetection checkpoints (tools/make_mmdet_fixtures.py: width-reduced ResNet-18 models
/// of mmdetection 3.3.0: one saved through mmengine's `save_checkpoint` with `meta` beside
/// `state_dict`, one so wrapped in PyTorch's legacy format as mmdetection's model zoo publishes
/// them, one a bare `torch.save(state_dict)`) read by the restricted `.pth` reader,
/// mapped by `MMDetectionNames`, and loaded strictly into the matching SimpleDet models: every
/// tensor of the model given, nothing left over, every shape right.
@Suite struct MMDetectionImportTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("CLITests/Fixtures/mmdet")

  struct Summary: Decodable {
    var shape: [Int]
    var sum: Double
    var first: Double
  }

  static func summaries() throws -> [String: [String: Summary]] {
    try JSONDecoder().decode([String: [String: Summary]].self, from: Data(contentsOf: fixtures.appendingPathComponent("tiny.json")))
  }

  /// mmdetection's tiny Mask R-CNN: ResNet-18 with 4 base channels, 8-channel FPN, RPN and mask
  /// head, 16-wide box head, 3 classes (4 with background).
  static var tinyMaskRCNN: DetectorConfiguration {
    var c = DetectorConfiguration()
    c.classes = 4
    c.backbone = .resnet(ResNet.Configuration(depth: 18, frozenStages: 1, baseChannels: 4))
    c.neck = .fpn(FPNConfiguration(channels: 8))
    c.roiHeads?.standard?.boxHead = .twoMLP(representationSize: 16)
    var mask = MaskHeadConfiguration()
    mask.convolutions = [8, 8, 8, 8]
    mask.predictorChannels = 8
    c.roiHeads?.standard?.maskHead = mask
    return c
  }

  static var tinyRetinaNet: DetectorConfiguration {
    var c = DetectorConfiguration.torchvisionRetinaNet(classes: 4)
    c.backbone = .resnet(ResNet.Configuration(depth: 18, frozenStages: 1, baseChannels: 4, outFeatures: [.c3, .c4, .c5]))
    c.neck = .fpn(FPNConfiguration(channels: 8, extraLevels: .p6p7, extraInput: .c5))
    return c
  }

  @Test func mmengineCheckpointWithMetaLoadsIntoMaskRCNN() throws {
    let url = Self.fixtures.appendingPathComponent("tiny-mask-rcnn.mmengine.pth")
    let checkpoint = try PyTorchCheckpoint(contentsOf: url)
    #expect(Set(checkpoint.keys) == ["meta", "state_dict"])
    let theirs = try readWeightFile(url)
    let summary = try #require(try Self.summaries()["tiny-mask-rcnn.mmengine.pth"])
    #expect(Set(theirs.keys) == Set(summary.keys))
    for (name, tensor) in theirs {
      #expect(tensor.shape == summary[name]!.shape, "\(name)")
      #expect(abs(tensor.to(.float64).sum().doubleValue() - summary[name]!.sum) <= 1e-6 * max(1, abs(summary[name]!.sum)), "\(name)")
    }

    let ours = try MMDetectionNames.converted(theirs, source: url.path)
    let model = GeneralizedRCNN(Self.tinyMaskRCNN)
    try model.load(stateDict: ours, strict: true)
    let state = model.stateDict()
    // Background moved from mmdetection's last row to SimpleDet's first.
    let fcCls = theirs["roi_head.bbox_head.fc_cls.bias"]!
    #expect(state["roi_heads.box_predictor.cls_score.bias"]![0].isEqual(to: fcCls[3]))
    #expect(state["roi_heads.box_predictor.cls_score.bias"]![1 ..< 4].isEqual(to: fcCls[0 ..< 3]))
    #expect(state["roi_heads.box_predictor.bbox_pred.bias"]![0 ..< 4].abs().sum().doubleValue() == 0)
    #expect(state["roi_heads.box_predictor.bbox_pred.bias"]![4 ..< 16].isEqual(to: theirs["roi_head.bbox_head.fc_reg.bias"]!))
    #expect(state["roi_heads.mask_predictor.mask_fcn_logits.bias"]![1 ..< 4].isEqual(to: theirs["roi_head.mask_head.conv_logits.bias"]!))
    #expect(state["backbone.body.layer2.0.downsample.1.running_var"]!.isEqual(to: theirs["backbone.layer2.0.downsample.1.running_var"]!))
  }

  @Test(arguments: ["tiny-retinanet.published.pth", "tiny-retinanet.state_dict.pth"])
  func publishedAndBareCheckpointsLoadIntoRetinaNet(_ file: String) throws {
    let url = Self.fixtures.appendingPathComponent(file)
    let theirs = try readWeightFile(url)
    let summary = try #require(try Self.summaries()[file])
    #expect(Set(theirs.keys) == Set(summary.keys))
    for (name, tensor) in theirs {
      #expect(abs(tensor.to(.float64).sum().doubleValue() - summary[name]!.sum) <= 1e-6 * max(1, abs(summary[name]!.sum)), "\(name)")
    }
    if file.contains("published") {
      #expect(Set(try PyTorchCheckpoint(contentsOf: url).keys) == ["meta", "state_dict"])
    }
    let ours = try MMDetectionNames.converted(theirs, source: url.path)
    let model = DenseDetector(Self.tinyRetinaNet)
    try model.load(stateDict: ours, strict: true)
    let cls = model.stateDict()["head.classification_head.cls_logits.bias"]!
    #expect(cls.shape == [36])
    // Anchor a's classes c move from row 3a + c to 4a + c + 1; rows 4a never fire.
    let theirCls = theirs["bbox_head.retina_cls.bias"]!
    for a in 0 ..< 9 {
      #expect(cls[4 * a].doubleValue() == Double(MMDetectionNames.unusedClassBias))
      #expect(cls[(4 * a + 1) ..< (4 * a + 4)].isEqual(to: theirCls[(3 * a) ..< (3 * a + 3)]))
    }
    #expect(model.stateDict()["backbone.fpn.extra_blocks.p6.weight"]!.isEqual(to: theirs["neck.fpn_convs.3.conv.weight"]!))
    #expect(model.stateDict()["backbone.fpn.extra_blocks.p7.bias"]!.isEqual(to: theirs["neck.fpn_convs.4.conv.bias"]!))
  }

  @Test func aWrongShapeNamesTheTensor() throws {
    let url = Self.fixtures.appendingPathComponent("tiny-mask-rcnn.mmengine.pth")
    let ours = try MMDetectionNames.converted(try readWeightFile(url), source: url.path)
    var configuration = Self.tinyMaskRCNN
    configuration.classes = 81
    let error = #expect(throws: (any Error).self) { try GeneralizedRCNN(configuration).load(stateDict: ours, strict: true) }
    #expect("\(error!)".contains("roi_heads.box_predictor.cls_score.weight"))
  }
}
