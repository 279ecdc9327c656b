import Foundation
import Testing
@testable import NN
@testable import Torch

/// mmdetection 3.x names to SimpleDet's (`MMDetectionNames`), on small synthetic state dicts.
@Suite struct MMDetectionNamesTests {
  /// Rows numbered 0, 1, 2, … so that a reordering shows in the values.
  static func numbered(_ shape: [Int]) -> Tensor {
    let rows = Tensor.arange(0, shape[0], dtype: .int64).to(.float32)
    return rows.reshaped([shape[0]] + Array(repeating: 1, count: shape.count - 1)) * Tensor.ones(shape)
  }

  /// The first value of each row.
  static func rows(_ t: Tensor) -> [Float] { t.reshaped([t.shape[0], -1])[.all, 0].contiguous().toArray(Float.self) }

  @Test func namesOfEveryPart() throws {
    let names: [String: String] = [
      "backbone.conv1.weight": "backbone.body.conv1.weight",
      "backbone.bn1.running_var": "backbone.body.bn1.running_var",
      "backbone.layer3.5.downsample.1.bias": "backbone.body.layer3.5.downsample.1.bias",
      "backbone.layer1.0.conv2.weight": "backbone.body.layer1.0.conv2.weight",
      "neck.lateral_convs.2.conv.weight": "backbone.fpn.inner_blocks.2.0.weight",
      "neck.lateral_convs.0.conv.bias": "backbone.fpn.inner_blocks.0.0.bias",
      "neck.fpn_convs.1.conv.weight": "backbone.fpn.layer_blocks.1.0.weight",
      "rpn_head.rpn_conv.weight": "rpn.head.conv.0.0.weight",
      "rpn_head.rpn_cls.bias": "rpn.head.cls_logits.bias",
      "rpn_head.rpn_reg.weight": "rpn.head.bbox_pred.weight",
      "roi_head.bbox_head.shared_fcs.0.weight": "roi_heads.box_head.fc6.weight",
      "roi_head.bbox_head.shared_fcs.1.bias": "roi_heads.box_head.fc7.bias",
      "roi_head.mask_head.convs.3.conv.weight": "roi_heads.mask_head.3.0.weight",
      "roi_head.mask_head.upsample.bias": "roi_heads.mask_predictor.conv5_mask.bias",
      "bbox_head.cls_convs.2.conv.weight": "head.classification_head.conv.2.0.weight",
      "bbox_head.reg_convs.0.conv.bias": "head.regression_head.conv.0.0.bias",
      "bbox_head.retina_reg.weight": "head.regression_head.bbox_reg.weight",
    ]
    let fail = { (name: String, problem: String) in WeightFileError(path: "x", message: "\(name): \(problem)") }
    for (theirs, ours) in names {
      #expect(try MMDetectionNames.name(for: theirs, lateralCount: 4, fail: fail) == ours, "\(theirs)")
    }
    // RetinaNet's FPN: three laterals, then P6 and P7 as fpn_convs 3 and 4.
    #expect(try MMDetectionNames.name(for: "neck.fpn_convs.2.conv.weight", lateralCount: 3, fail: fail) == "backbone.fpn.layer_blocks.2.0.weight")
    #expect(try MMDetectionNames.name(for: "neck.fpn_convs.3.conv.weight", lateralCount: 3, fail: fail) == "backbone.fpn.extra_blocks.p6.weight")
    #expect(try MMDetectionNames.name(for: "neck.fpn_convs.4.conv.bias", lateralCount: 3, fail: fail) == "backbone.fpn.extra_blocks.p7.bias")
    #expect(throws: WeightFileError.self) { try MMDetectionNames.name(for: "neck.fpn_convs.5.conv.bias", lateralCount: 3, fail: fail) }
    for unknown in ["backbone.fc.weight", "neck.lateral_convs.0.bn.weight", "roi_head.bbox_head.fc_cls.scale", "bbox_head.atss_cls.weight", "ema_backbone.conv1.weight"] {
      #expect(try MMDetectionNames.name(for: unknown, lateralCount: 4, fail: fail) == nil, "\(unknown)")
    }
  }

  @Test func softmaxBackgroundMovesFromLastToFirst() throws {
    // 3 classes: mmdetection's fc_cls rows are [class 0, class 1, class 2, background].
    let state: [String: Tensor] = [
      "roi_head.bbox_head.fc_cls.weight": Self.numbered([4, 5]),
      "roi_head.bbox_head.fc_cls.bias": Self.numbered([4]),
      "roi_head.bbox_head.fc_reg.weight": Self.numbered([12, 5]) + 1,
      "roi_head.bbox_head.fc_reg.bias": Self.numbered([12]) + 1,
      "roi_head.mask_head.conv_logits.weight": Self.numbered([3, 2, 1, 1]) + 1,
      "roi_head.mask_head.conv_logits.bias": Self.numbered([3]) + 1,
      "backbone.bn1.num_batches_tracked": Tensor([Int64(7)]),
    ]
    let out = try MMDetectionNames.converted(state, source: "model.pth")
    #expect(out.count == 6)
    #expect(Self.rows(out["roi_heads.box_predictor.cls_score.weight"]!) == [3, 0, 1, 2])
    #expect(Self.rows(out["roi_heads.box_predictor.cls_score.bias"]!) == [3, 0, 1, 2])
    // Background's four regression rows are zeros in front; the classes' rows follow unchanged.
    let regression: [Float] = [0, 0, 0, 0] + (1...12).map(Float.init)
    #expect(out["roi_heads.box_predictor.bbox_pred.weight"]!.shape == [16, 5])
    #expect(Self.rows(out["roi_heads.box_predictor.bbox_pred.weight"]!) == regression)
    #expect(Self.rows(out["roi_heads.box_predictor.bbox_pred.bias"]!) == regression)
    #expect(out["roi_heads.mask_predictor.mask_fcn_logits.weight"]!.shape == [4, 2, 1, 1])
    #expect(Self.rows(out["roi_heads.mask_predictor.mask_fcn_logits.weight"]!) == [0, 1, 2, 3])
    #expect(Self.rows(out["roi_heads.mask_predictor.mask_fcn_logits.bias"]!) == [0, 1, 2, 3])
  }

  @Test func retinaNetGainsANeverFiringOutputZeroPerAnchor() throws {
    // 2 anchors × 3 classes; mmdetection's row a·3 + c becomes a·4 + c + 1.
    let state: [String: Tensor] = [
      "bbox_head.retina_cls.weight": Self.numbered([6, 2, 3, 3]) + 1,
      "bbox_head.retina_cls.bias": Self.numbered([6]) + 1,
      "bbox_head.retina_reg.weight": Tensor.zeros([8, 2, 3, 3]),
      "bbox_head.retina_reg.bias": Tensor.zeros([8]),
    ]
    let out = try MMDetectionNames.converted(state, source: "retina.pth")
    #expect(out["head.classification_head.cls_logits.weight"]!.shape == [8, 2, 3, 3])
    #expect(Self.rows(out["head.classification_head.cls_logits.weight"]!) == [0, 1, 2, 3, 0, 4, 5, 6])
    let bias = Self.rows(out["head.classification_head.cls_logits.bias"]!)
    #expect(bias == [MMDetectionNames.unusedClassBias, 1, 2, 3, MMDetectionNames.unusedClassBias, 4, 5, 6])
    #expect(out["head.classification_head.cls_logits.bias"]![0].sigmoid().doubleValue() == 0)
  }

  @Test func contradictionsAreOneLineNamingFileAndTensor() throws {
    let agnostic: [String: Tensor] = [
      "roi_head.bbox_head.fc_cls.weight": Tensor.zeros([4, 5]),
      "roi_head.bbox_head.fc_reg.weight": Tensor.zeros([4, 5]),
    ]
    let error = try #require(throws: WeightFileError.self) { try MMDetectionNames.converted(agnostic, source: "zoo/model.pth") }
    #expect(error.description.hasPrefix("zoo/model.pth: mmdetection tensor 'roi_head.bbox_head.fc_reg.weight'"))
    #expect(error.description.contains("class-agnostic"))
    #expect(!error.description.contains("\n"))

    let masks: [String: Tensor] = [
      "roi_head.bbox_head.fc_cls.bias": Tensor.zeros([4]),
      "roi_head.mask_head.conv_logits.bias": Tensor.zeros([80]),
    ]
    let maskError = try #require(throws: WeightFileError.self) { try MMDetectionNames.converted(masks, source: "m.pth") }
    #expect(maskError.description.contains("'roi_head.mask_head.conv_logits.bias': has 80 outputs, but fc_cls has 3 classes"))

    let unknown = try #require(throws: WeightFileError.self) {
      try MMDetectionNames.converted(["backbone.conv1.weight": Tensor.zeros([1]), "neck.fpn_convs.0.bn.weight": Tensor.zeros([1])], source: "n.pth")
    }
    #expect(unknown.description.hasPrefix("n.pth: mmdetection tensor 'neck.fpn_convs.0.bn.weight': not a name this importer knows"))

    let retina = try #require(throws: WeightFileError.self) {
      try MMDetectionNames.converted(["bbox_head.retina_cls.bias": Tensor.zeros([7]), "bbox_head.retina_reg.bias": Tensor.zeros([8])], source: "r.pth")
    }
    #expect(retina.description.contains("'bbox_head.retina_cls.bias': has 7 rows, not a multiple of the 2 anchors"))
  }

  /// DCN and DCNv2 ResNets (mmcv's DeformConv2dPack, ModulatedDeformConv2dPack as `conv2`): the
  /// offset predictor `conv2.conv_offset` goes to `backbone.body` with the rest of the block, its
  /// values as they are (v2's 27 rows of offsets and mask logits in mmcv's order, which is
  /// DeformableConv2d's).
  @Test func deformableConvolutionOffsetsKeepTheirNames() throws {
    let names: [String: String] = [
      "backbone.layer2.0.conv2.conv_offset.weight": "backbone.body.layer2.0.conv2.conv_offset.weight",
      "backbone.layer4.2.conv2.conv_offset.bias": "backbone.body.layer4.2.conv2.conv_offset.bias",
      "backbone.layer3.5.conv2.weight": "backbone.body.layer3.5.conv2.weight",
    ]
    let fail = { (name: String, problem: String) in WeightFileError(path: "x", message: "\(name): \(problem)") }
    for (theirs, ours) in names {
      #expect(try MMDetectionNames.name(for: theirs, lateralCount: 4, fail: fail) == ours, "\(theirs)")
    }
    let state = [
      "backbone.layer2.0.conv2.conv_offset.weight": Self.numbered([27, 4, 3, 3]),
      "backbone.layer2.0.conv2.conv_offset.bias": Self.numbered([27]),
      "backbone.layer2.0.conv2.weight": Self.numbered([4, 4, 3, 3]),
    ]
    let out = try MMDetectionNames.converted(state, source: "dcnv2.pth")
    #expect(out.count == 3)
    #expect(Self.rows(out["backbone.body.layer2.0.conv2.conv_offset.weight"]!) == (0..<27).map(Float.init))
    #expect(Self.rows(out["backbone.body.layer2.0.conv2.conv_offset.bias"]!) == (0..<27).map(Float.init))
  }

  /// Cascade (Mask) R-CNN: each stage's heads under the single head's names with the stage after
  /// the module, as SimpleDet's cascade names them.
  @Test func cascadeStagesKeepTheirIndex() throws {
    let names: [String: String] = [
      "roi_head.bbox_head.0.shared_fcs.0.weight": "roi_heads.box_head.0.fc6.weight",
      "roi_head.bbox_head.2.shared_fcs.1.bias": "roi_heads.box_head.2.fc7.bias",
      "roi_head.bbox_head.1.fc_cls.weight": "roi_heads.box_predictor.1.cls_score.weight",
      "roi_head.bbox_head.2.fc_reg.bias": "roi_heads.box_predictor.2.bbox_pred.bias",
      "roi_head.mask_head.1.convs.3.conv.weight": "roi_heads.mask_head.1.3.0.weight",
      "roi_head.mask_head.0.upsample.bias": "roi_heads.mask_predictor.0.conv5_mask.bias",
      "roi_head.mask_head.2.conv_logits.weight": "roi_heads.mask_predictor.2.mask_fcn_logits.weight",
    ]
    let fail = { (name: String, problem: String) in WeightFileError(path: "x", message: "\(name): \(problem)") }
    for (theirs, ours) in names {
      #expect(try MMDetectionNames.name(for: theirs, lateralCount: 4, fail: fail) == ours, "\(theirs)")
    }
    for unknown in ["roi_head.bbox_head.0.fc_cls.scale", "roi_head.bbox_head.1.convs.0.conv.weight", "roi_head.mask_head.0.fc.weight"] {
      #expect(try MMDetectionNames.name(for: unknown, lateralCount: 4, fail: fail) == nil, "\(unknown)")
    }
  }

  @Test func cascadeStagesRegressClassAgnostic() throws {
    // 3 classes, two stages: each stage's background row moves to the front, its 4-row
    // class-agnostic regression is kept as it is, its mask logits gain output 0.
    var state: [String: Tensor] = [:]
    for k in 0..<2 {
      state["roi_head.bbox_head.\(k).fc_cls.weight"] = Self.numbered([4, 5]) + Double(10 * k)
      state["roi_head.bbox_head.\(k).fc_cls.bias"] = Self.numbered([4]) + Double(10 * k)
      state["roi_head.bbox_head.\(k).fc_reg.weight"] = Self.numbered([4, 5]) + 1
      state["roi_head.bbox_head.\(k).fc_reg.bias"] = Self.numbered([4]) + 1
      state["roi_head.mask_head.\(k).conv_logits.bias"] = Self.numbered([3]) + 1
    }
    let out = try MMDetectionNames.converted(state, source: "cascade.pth")
    #expect(out.count == 10)
    #expect(Self.rows(out["roi_heads.box_predictor.0.cls_score.weight"]!) == [3, 0, 1, 2])
    #expect(Self.rows(out["roi_heads.box_predictor.1.cls_score.bias"]!) == [13, 10, 11, 12])
    #expect(Self.rows(out["roi_heads.box_predictor.1.bbox_pred.weight"]!) == [1, 2, 3, 4])
    #expect(Self.rows(out["roi_heads.box_predictor.0.bbox_pred.bias"]!) == [1, 2, 3, 4])
    #expect(Self.rows(out["roi_heads.mask_predictor.1.mask_fcn_logits.bias"]!) == [0, 1, 2, 3])

    // Class-specific regression in a stage, or mask logits for other classes, are one-line errors.
    var specific = state
    specific["roi_head.bbox_head.1.fc_reg.weight"] = Tensor.zeros([12, 5])
    let error = try #require(throws: WeightFileError.self) { try MMDetectionNames.converted(specific, source: "c.pth") }
    #expect(error.description.hasPrefix("c.pth: mmdetection tensor 'roi_head.bbox_head.1.fc_reg.weight': has 12 rows"))
    #expect(error.description.contains("class-agnostic") && !error.description.contains("\n"))
    var masks = state
    masks["roi_head.mask_head.0.conv_logits.bias"] = Tensor.zeros([80])
    let maskError = try #require(throws: WeightFileError.self) { try MMDetectionNames.converted(masks, source: "m.pth") }
    #expect(maskError.description.contains("'roi_head.mask_head.0.conv_logits.bias': has 80 outputs, but fc_cls of stage 0 has 3 classes"))
  }

  /// NAS-FPN RetinaNet (mmdetection's NASFPN neck and RetinaSepBNHead): the neck keeps its names
  /// under `backbone.fpn`; each tower convolution, which mmdetection's state dict repeats under
  /// every level, is kept once, and each level's batch norm goes into the block's norm slot.
  @Test func nasFPNAndSeparateNormHead() throws {
    let shared = Self.numbered([2, 2, 3, 3])
    var state: [String: Tensor] = [
      "neck.lateral_convs.0.conv.weight": Tensor.zeros([2, 3, 1, 1]),
      "neck.lateral_convs.0.bn.running_var": Tensor.ones([2]),
      "neck.extra_downsamples.1.0.bn.bias": Tensor.zeros([2]),
      "neck.fpn_stages.6.gp_75_6.out_conv.conv.bias": Tensor.zeros([2]),
      "neck.fpn_stages.0.sum_44_4.out_conv.bn.num_batches_tracked": Tensor([Int64(3)]),
      "bbox_head.retina_reg.bias": Tensor.zeros([8]),
    ]
    for level in 0..<3 {
      state["bbox_head.cls_convs.\(level).1.conv.weight"] = shared
      state["bbox_head.reg_convs.\(level).3.conv.weight"] = shared + 1
      state["bbox_head.cls_convs.\(level).1.bn.running_mean"] = Tensor.full([2], value: Double(level))
      state["bbox_head.reg_convs.\(level).3.bn.weight"] = Tensor.full([2], value: Double(level))
    }
    let out = try MMDetectionNames.converted(state, source: "nas.pth")
    #expect(
      Set(out.keys) == [
        "backbone.fpn.lateral_convs.0.conv.weight", "backbone.fpn.lateral_convs.0.bn.running_var",
        "backbone.fpn.extra_downsamples.1.0.bn.bias", "backbone.fpn.fpn_stages.6.gp_75_6.out_conv.conv.bias",
        "head.regression_head.bbox_reg.bias",
        "head.classification_head.conv.1.0.weight", "head.regression_head.conv.3.0.weight",
        "head.classification_head.conv.1.1.0.running_mean", "head.classification_head.conv.1.1.1.running_mean",
        "head.classification_head.conv.1.1.2.running_mean", "head.regression_head.conv.3.1.0.weight",
        "head.regression_head.conv.3.1.1.weight", "head.regression_head.conv.3.1.2.weight",
      ])
    #expect(Self.rows(out["head.classification_head.conv.1.0.weight"]!) == [0, 1])
    #expect(Self.rows(out["head.regression_head.conv.3.0.weight"]!) == [1, 2])
    #expect(out["head.classification_head.conv.1.1.2.running_mean"]!.toArray(Float.self) == [2, 2])

    // RetinaHead's towers (one index) keep their meaning; an FPN's lateral norm is still unknown.
    let fail = { (name: String, problem: String) in WeightFileError(path: "x", message: "\(name): \(problem)") }
    #expect(MMDetectionNames.nasFPNName(for: "bbox_head.cls_convs.2.conv.weight", nasFPN: true) == nil)
    #expect(MMDetectionNames.nasFPNName(for: "neck.lateral_convs.0.bn.weight", nasFPN: false) == nil)
    #expect(MMDetectionNames.nasFPNName(for: "neck.fpn_convs.0.conv.weight", nasFPN: true) == nil)
    #expect(try MMDetectionNames.name(for: "neck.lateral_convs.0.conv.weight", lateralCount: 3, fail: fail) == "backbone.fpn.inner_blocks.0.0.weight")
  }

  /// A level's copy of a shared tower convolution that differs from level 0's cannot be held by
  /// the model: one error line naming the file, the copy and level 0's tensor.
  @Test func unequalSharedConvolutionCopyIsAnError() throws {
    let state: [String: Tensor] = [
      "bbox_head.cls_convs.0.2.conv.weight": Self.numbered([2, 2, 3, 3]),
      "bbox_head.cls_convs.1.2.conv.weight": Self.numbered([2, 2, 3, 3]),
      "bbox_head.cls_convs.2.2.conv.weight": Self.numbered([2, 2, 3, 3]) * 2,
    ]
    let error = try #require(throws: WeightFileError.self) { try MMDetectionNames.converted(state, source: "sep.pth") }
    #expect(error.description.hasPrefix("sep.pth: mmdetection tensor 'bbox_head.cls_convs.2.2.conv.weight': differs from 'bbox_head.cls_convs.0.2.conv.weight'"))
    #expect(!error.description.contains("\n"))

    let orphan = try #require(throws: WeightFileError.self) {
      try MMDetectionNames.converted(["bbox_head.reg_convs.4.0.conv.weight": Tensor.zeros([2, 2, 3, 3])], source: "o.pth")
    }
    #expect(orphan.description.contains("'bbox_head.reg_convs.0.0.conv.weight' (level 0) is missing"))
  }

  /// YOLOv3: Darknet, neck and head keep their names under new prefixes; each anchor of the
  /// prediction gains a class output 0 after its objectness (zero weights, bias −1000).
  @Test func yolov3NamesAndUnusedClass() throws {
    // 3 anchors × (4 box + objectness + 2 classes) = 21 rows, numbered.
    let state: [String: Tensor] = [
      "backbone.conv1.conv.weight": Tensor.zeros([4, 3, 3, 3]),
      "backbone.conv_res_block2.res1.conv2.bn.running_mean": Tensor.zeros([8]),
      "neck.detect1.conv5.bn.weight": Tensor.zeros([4]),
      "neck.conv1.conv.weight": Tensor.zeros([2, 4, 1, 1]),
      "neck.detect2.conv1.bn.num_batches_tracked": Tensor.zeros([], dtype: .int64),
      "bbox_head.convs_bridge.1.conv.weight": Tensor.zeros([8, 4, 3, 3]),
      "bbox_head.convs_pred.1.weight": Self.numbered([21, 8, 1, 1]),
      "bbox_head.convs_pred.1.bias": Self.numbered([21]),
    ]
    let out = try MMDetectionNames.converted(state, source: "yolo.pth")
    #expect(
      Set(out.keys) == [
        "backbone.body.conv1.conv.weight", "backbone.body.conv_res_block2.res1.conv2.bn.running_mean",
        "backbone.fpn.detect1.conv5.bn.weight", "backbone.fpn.conv1.conv.weight", "head.convs_bridge.1.conv.weight",
        "head.convs_pred.1.weight", "head.convs_pred.1.bias",
      ])
    let u: Float = -1000
    #expect(out["head.convs_pred.1.bias"]!.toArray(Float.self) == [0, 1, 2, 3, 4, u, 5, 6, 7, 8, 9, 10, 11, u, 12, 13, 14, 15, 16, 17, 18, u, 19, 20])
    #expect(Self.rows(out["head.convs_pred.1.weight"]!) == [0, 1, 2, 3, 4, 0, 5, 6, 7, 8, 9, 10, 11, 0, 12, 13, 14, 15, 16, 17, 18, 0, 19, 20])

    let bad = try #require(throws: WeightFileError.self) {
      try MMDetectionNames.converted(["bbox_head.convs_pred.0.bias": Tensor.zeros([20])], source: "y.pth")
    }
    #expect(bad.description.contains("'bbox_head.convs_pred.0.bias'") && !bad.description.contains("\n"))
  }
}
