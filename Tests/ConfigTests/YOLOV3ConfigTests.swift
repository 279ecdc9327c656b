import Detection
import Foundation
import Testing
import Torch

@testable import Config

/// YOLOv3's parts as configs spell them: the presets' shapes, the checks that name a key, and the
/// square resize of `square_sizes`.
@Suite struct YOLOV3ConfigTests {
  /// The mmdetection preset builds Darknet-53, the neck and the head at mmdetection's sizes,
  /// under mmdetection's names.
  @Test func mmdetectionPresetHasMMDetectionsShapes() throws {
    let config = try SimpleDetConfig.load(file: configsFolder.appendingPathComponent("mmdet/yolov3_d53_8xb8-320-273e_coco.yaml").path)
    #expect(config.model.detector.backboneOutputs.map(\.channels) == [256, 512, 1024])
    #expect(config.model.detector.neckOutputs == [128, 256, 512].enumerated().map { FeatureMapShape(channels: $1, stride: 8 << $0) })
    let state = config.model.detector.makeDetector().stateDict()
    #expect(state["backbone.body.conv1.conv.weight"]?.shape == [32, 3, 3, 3])
    #expect(state["backbone.body.conv_res_block5.res3.conv2.bn.running_var"]?.shape == [1024])
    #expect(state["backbone.fpn.detect1.conv1.conv.weight"]?.shape == [512, 1024, 1, 1])
    #expect(state["backbone.fpn.conv2.conv.weight"]?.shape == [128, 256, 1, 1])
    #expect(state["backbone.fpn.detect3.conv1.conv.weight"]?.shape == [128, 384, 1, 1])
    // Coarsest level first, as mmdetection numbers them; 3 anchors × (5 + 81 classes).
    #expect(state["head.convs_bridge.0.conv.weight"]?.shape == [1024, 512, 3, 3])
    #expect(state["head.convs_pred.2.weight"]?.shape == [258, 256, 1, 1])
    // As many tensors as mmdetection's state dict, its batch-norm counters left out.
    #expect(state.filter { !$0.key.hasSuffix("num_batches_tracked") }.count == 366)
  }

  @Test func anchorListsMustMatchTheLevels() throws {
    let folder = try ConfigFolder()
    let file = try folder.write(
      "a.yaml", "_base_: \(configsFolder.path)/shapes/yolov3_d53.yaml\nmodel:\n  head: {anchor_sizes: [[[10, 13]], [[30, 61]]]}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    guard case .invalidValue(let path, let source, let reason)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(path == "model.head.anchor_sizes" && source == file && reason.contains("(3)"), "\(reason)")
  }

  @Test func darknetDepthIsChecked() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "_base_: \(configsFolder.path)/shapes/yolov3_d53.yaml\nmodel:\n  backbone: {depth: 21}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(e == .invalidValue(path: "model.backbone.depth", source: file, reason: "must be 53 (the only Darknet mmdetection defines), got 21"))
  }

  /// mmdetection's `Resize(scale=(320, 320), keep_ratio=True)`: the longer side becomes 320.
  @Test func squareSizesBoundTheLongerSide() {
    var transform = ImageTransform(minSize: [320], maxSize: 1333, mean: [0, 0, 0], std: [1, 1, 1], sizeRounding: .nearest)
    transform.squareSizes = true
    let (batch, _) = transform([Tensor.zeros([3, 480, 640]), Tensor.zeros([3, 500, 300])])
    #expect(batch.imageSizes.map { [$0.height, $0.width] } == [[240, 320], [320, 192]])
    #expect(batch.tensor.shape == [2, 3, 320, 320])
    // Several sizes: training draws one per image.
    transform.minSize = [256, 288, 320]
    var drawn = Set<Int>()
    let generator = Generator(seed: 3)
    for _ in 0..<20 {
      let (b, _) = transform([Tensor.zeros([3, 480, 640])], targets: [Instances(imageSize: (480, 640), fields: [:])], generator: generator)
      drawn.insert(b.imageSizes[0].width)
    }
    #expect(drawn == [256, 288, 320])
  }
}
