import Data
import Detection
import Foundation
import NN
import Testing

@testable import Config

/// A scratch folder of YAML files, removed when the test ends.
final class ConfigFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    let file = url.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: file)
    return file.path
  }
}

/// The repository's `configs/` folder.
let configsFolder = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("configs")

func error(of body: () throws -> Void) -> ConfigError? {
  do {
    try body()
    return nil
  } catch let e as ConfigError {
    return e
  } catch {
    Issue.record("not a ConfigError: \(error)")
    return nil
  }
}

@Suite struct KeyNameTests {
  @Test(arguments: [
    ("roiHeads", "roi_heads"), ("preNMSTopNTrain", "pre_nms_top_n_train"), ("foregroundIoU", "foreground_iou"),
    ("fpnNorm", "fpn_norm"), ("classes", "classes"), ("base_lr", "base_lr"), ("widthPerGroup", "width_per_group"),
  ])
  func snakeCase(_ pair: (String, String)) {
    #expect(snakeCased(pair.0) == pair.1)
  }
}

@Suite struct InheritanceTests {
  @Test func defaultsWithoutFile() throws {
    #expect(try SimpleDetConfig.load() == SimpleDetConfig())
  }

  @Test func childWinsForMappingsAndSequencesReplace() throws {
    let folder = try ConfigFolder()
    try folder.write(
      "base.yaml",
      """
      model:
        classes: 5
        rpn: {nms_threshold: 0.6, anchor_sizes: [[8], [16], [32], [64], [128]]}
      solver: {base_lr: 0.1, steps: [10, 20, 30]}
      """)
    let child = try folder.write(
      "child.yaml",
      """
      _base_: base.yaml
      model:
        rpn: {anchor_sizes: [[4], [8], [16], [32], [64]]}
      solver: {steps: [5]}
      """)
    let config = try SimpleDetConfig.load(file: child)
    #expect(config.model.classes == 5)
    #expect(config.model.rpn?.nmsThreshold == 0.6)
    #expect(config.model.rpn?.anchorSizes == [[4], [8], [16], [32], [64]])
    #expect(config.model.rpn?.foregroundIoU == 0.7)
    #expect(config.solver.baseLearningRate == 0.1)
    #expect(config.solver.steps == [5])
  }

  @Test func severalBasesLaterWins() throws {
    let folder = try ConfigFolder()
    try folder.write("a.yaml", "solver: {base_lr: 0.1, max_iter: 10}\n")
    try folder.write("b.yaml", "solver: {base_lr: 0.2}\n")
    let child = try folder.write("c.yaml", "_base_: [a.yaml, b.yaml]\nruntime: {seed: 3}\n")
    let config = try SimpleDetConfig.load(file: child)
    #expect(config.solver.baseLearningRate == 0.2)
    #expect(config.solver.maxIterations == 10)
    #expect(config.runtime.seed == 3)
  }

  @Test func basePathsAreRelativeToTheIncludingFile() throws {
    let folder = try ConfigFolder()
    try folder.write("_base_/model.yaml", "model: {classes: 7}\n")
    try folder.write("_base_/all.yaml", "_base_: model.yaml\nsolver: {batch_size: 3}\n")
    let child = try folder.write("deep/er/child.yaml", "_base_: ../../_base_/all.yaml\n")
    let config = try SimpleDetConfig.load(file: child)
    #expect(config.model.classes == 7)
    #expect(config.solver.batchSize == 3)
  }

  @Test func cyclesAreErrors() throws {
    let folder = try ConfigFolder()
    try folder.write("a.yaml", "_base_: b.yaml\n")
    let b = try folder.write("b.yaml", "_base_: a.yaml\n")
    let e = error { _ = try SimpleDetConfig.load(file: b) }
    guard case .inheritanceCycle(let chain)? = e else {
      Issue.record("expected a cycle error, got \(String(describing: e))")
      return
    }
    #expect(chain.count == 3)
    #expect(e!.description.contains("a.yaml"))
  }

  @Test func selfInclusionIsACycle() throws {
    let folder = try ConfigFolder()
    let a = try folder.write("a.yaml", "_base_: a.yaml\n")
    #expect(error { _ = try SimpleDetConfig.load(file: a) }.map { if case .inheritanceCycle = $0 { true } else { false } } == true)
  }

  @Test func missingFileNamesIt() throws {
    let e = error { _ = try SimpleDetConfig.load(file: "/nonexistent/x.yaml") }
    #expect(e == .missingFile(path: "/nonexistent/x.yaml", includedFrom: nil))
    #expect(e!.description == "/nonexistent/x.yaml: no such config file")
  }

  @Test func missingBaseNamesBothFiles() throws {
    let folder = try ConfigFolder()
    let child = try folder.write("child.yaml", "_base_: gone.yaml\n")
    let e = error { _ = try SimpleDetConfig.load(file: child) }
    #expect(e?.description.contains("gone.yaml") == true)
    #expect(e?.description.contains("child.yaml") == true)
  }

  @Test func switchingBoxHeadKindStartsFromThatKindsDefaults() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("h.yaml", "model: {roi_heads: {box_head: {kind: conv_fc, convolutions: [64]}}}\n")
    let config = try SimpleDetConfig.load(file: file)
    #expect(config.model.roiHeads?.standard?.boxHead == .convFC(convolutions: [64], fullyConnected: [1024], norm: .batchNorm))
  }

  /// A kind with every key set so far and more (TridentNet after a ResNet) keeps those values
  /// and takes its own defaults for the rest, so `--set model.backbone.kind=trident` over a
  /// ResNet-C4 preset, or a file setting only the branches' keys, works.
  @Test func switchingToAKindWithMoreKeysKeepsTheValuesSetSoFar() throws {
    let folder = try ConfigFolder()
    try folder.write(
      "c4.yaml",
      "model: {backbone: {kind: resnet, depth: 18, base_channels: 32, out_features: [c4]}, neck: {kind: none}, rpn: {anchor_sizes: [[32, 64, 128]], aspect_ratios: [[0.5, 1, 2]]}, roi_heads: {box_head: {kind: resnet_stage}}}\n")
    let child = try folder.write("trident.yaml", "_base_: c4.yaml\nmodel: {backbone: {kind: trident, test_branch: 1}}\n")
    let config = try SimpleDetConfig.load(file: child)
    let trident = try #require(config.model.detector.backbone.trident)
    #expect(trident.resNet.depth == 18 && trident.resNet.baseChannels == 32 && trident.resNet.outFeatures == [.c4])
    #expect(trident.testBranch == 1 && trident.dilations == [1, 2, 3] && trident.validRanges.count == 3)
    let overridden = try SimpleDetConfig.load(
      file: folder.url.appendingPathComponent("c4.yaml").path, overrides: ["model.backbone.kind=trident"])
    #expect(overridden.model.detector.backbone.trident?.resNet.depth == 18)
    #expect(error { _ = try SimpleDetConfig.load(file: child, overrides: ["model.backbone.valid_ranges=[[0, 10]]"]) }?
      .description.contains("model.backbone.valid_ranges") == true)
  }
}

@Suite struct ErrorTests {
  @Test func unknownKeyInFileNamesKeyAndFile() throws {
    let folder = try ConfigFolder()
    try folder.write("base.yaml", "model:\n  rpn:\n    nms_treshold: 0.5\n")
    let child = try folder.write("child.yaml", "_base_: base.yaml\nsolver: {base_lr: 0.1}\n")
    let e = error { _ = try SimpleDetConfig.load(file: child) }
    #expect(e == .unknownKey(path: "model.rpn.nms_treshold", source: folder.url.appendingPathComponent("base.yaml").path))
    #expect(e?.description.contains("model.rpn.nms_treshold") == true)
  }

  @Test func unknownTopLevelSection() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "sovler: {base_lr: 0.1}\n")
    #expect(error { _ = try SimpleDetConfig.load(file: file) } == .unknownKey(path: "sovler", source: file))
  }

  @Test func unknownKeyInsideAVariant() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "model: {roi_heads: {box_head: {kind: conv_fc, representation_size: 5}}}\n")
    #expect(
      error { _ = try SimpleDetConfig.load(file: file) }
        == .unknownKey(path: "model.roi_heads.box_head.representation_size", source: file))
  }

  @Test func typeErrorNamesKeyAndFile() throws {
    let folder = try ConfigFolder()
    try folder.write("base.yaml", "solver: {base_lr: fast}\n")
    let child = try folder.write("child.yaml", "_base_: base.yaml\nsolver: {max_iter: 10}\n")
    let e = error { _ = try SimpleDetConfig.load(file: child) }
    guard case .invalidValue(let path, let source, let reason)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(reason == "expected a number, found the string 'fast'")
    #expect(path == "solver.base_lr")
    #expect(source == folder.url.appendingPathComponent("base.yaml").path)
  }

  @Test func nestedTypeErrorNamesKeyAndFile() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "model: {rpn: {anchor_sizes: [[16], [x], [64], [128], [256]]}}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    guard case .invalidValue(let path, let source, _)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(path.hasPrefix("model.rpn.anchor_sizes"))
    #expect(source == file)
  }

  @Test func badEnumValue() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "model: {backbone: {norm: LayerNorm}}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    guard case .invalidValue(let path, let source, _)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(path == "model.backbone.norm")
    #expect(source == file)
  }

  @Test func sectionGivenAsScalar() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "solver: 3\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(e == .invalidValue(path: "solver", source: file, reason: "expected a mapping, found the integer 3"))
  }

  @Test func unknownTransformSettingNamesFile() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "data:\n  transforms:\n    - random_horizontal_flip: {probabilty: 0.5}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    guard case .invalidValue(let path, let source, let reason)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(path.hasPrefix("data.transforms.0"))
    #expect(source == file)
    #expect(reason.contains("probabilty"))
  }

  @Test func valueCheckNamesKeyAndFile() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "solver: {batch_size: 0}\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(e == .invalidValue(path: "solver.batch_size", source: file, reason: "must be between 1 and 4096, got 0"))
  }

  @Test func invalidYAMLNamesFile() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "model: {classes: [1, 2\n")
    let e = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(e?.description.hasPrefix(file) == true)
    #expect(e?.description.contains("\n") == false)
  }

  @Test func baseMustBeFileNames() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "_base_: {x: 1}\n")
    #expect(error { _ = try SimpleDetConfig.load(file: file) } == .invalidBase(file: file))
  }
}

@Suite struct OverrideTests {
  @Test func scalarsOfEachType() throws {
    let config = try SimpleDetConfig.load(overrides: [
      "solver.base_lr=0.01", "solver.max_iter=100", "model.transform.fixed_size=true", "model.backbone.norm=BN",
      "runtime.output_dir=runs/a", "solver.clip_grad_norm=1e-3", "solver.optimizer=adamw",
    ])
    #expect(config.solver.baseLearningRate == 0.01)
    #expect(config.solver.maxIterations == 100)
    #expect(config.model.transform.fixedSize)
    #expect(config.model.backbone.resNet?.norm == .batchNorm)
    #expect(config.runtime.outputDirectory == "runs/a")
    #expect(config.solver.clipGradientNorm == 0.001)
    #expect(config.solver.optimizer == .adamw)
  }

  @Test func flowValuesAndIntegersForDoubles() throws {
    let config = try SimpleDetConfig.load(overrides: [
      "model.rpn.anchor_sizes=[[16],[32],[64],[128],[256]]", "model.rpn.aspect_ratios=[[1], [1], [1], [1], [1]]", "solver.base_lr=1",
    ])
    #expect(config.model.rpn?.anchorSizes == [[16], [32], [64], [128], [256]])
    #expect(config.solver.baseLearningRate == 1)
  }

  @Test func overridesApplyAfterFilesAndInOrder() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("a.yaml", "solver: {base_lr: 0.5, max_iter: 7}\n")
    let config = try SimpleDetConfig.load(file: file, overrides: ["solver.base_lr=0.1", "solver.base_lr=0.2"])
    #expect(config.solver.baseLearningRate == 0.2)
    #expect(config.solver.maxIterations == 7)
  }

  @Test func wholeMappingAndNull() throws {
    let config = try SimpleDetConfig.load(overrides: [
      "model.roi_heads.box_head={kind: conv_fc, convolutions: [32], fully_connected: [64], norm: GN}",
      "data.kind=shapes", "data.train.annotations=null",
    ])
    #expect(config.model.roiHeads?.standard?.boxHead == .convFC(convolutions: [32], fullyConnected: [64], norm: .groupNorm))
    #expect(config.data.train.annotations == nil)
  }

  @Test func unknownKeyIsAnError() throws {
    let e = error { _ = try SimpleDetConfig.load(overrides: ["solver.base_rl=0.1"]) }
    #expect(e == .unknownKey(path: "solver.base_rl", source: "--set solver.base_rl=0.1"))
  }

  @Test func typeErrorNamesTheOverride() throws {
    let e = error { _ = try SimpleDetConfig.load(overrides: ["solver.max_iter=lots"]) }
    guard case .invalidValue(let path, let source, _)? = e else {
      Issue.record("expected a value error, got \(String(describing: e))")
      return
    }
    #expect(path == "solver.max_iter")
    #expect(source == "--set solver.max_iter=lots")
  }

  @Test(arguments: ["solver.base_lr", "=1", "solver..base_lr=1"])
  func malformed(_ text: String) {
    #expect(error { _ = try SimpleDetConfig.load(overrides: [text]) } == .invalidOverride(text))
  }
}

@Suite struct RoundTripTests {
  @Test func defaultsRoundTrip() throws {
    try roundTrip(SimpleDetConfig())
  }

  @Test func changedConfigRoundTrips() throws {
    var config = SimpleDetConfig()
    config.model.detector = .torchvisionFasterRCNNv2(classes: 3)
    config.model.rpn?.minSize = 1e-5
    config.data.kind = .lightJSON
    config.data.train.annotations = "a/b.json"
    config.data.train.images = "123"
    config.data.test.annotations = "a/c.json"
    config.data.transforms = [
      .resizeShortestEdge(ResizeShortestEdge(sizes: [640, 800], maxSize: 1333)),
      .randomHorizontalFlip(RandomHorizontalFlip(probability: 0.25)),
    ]
    config.solver.clipGradientNorm = 35
    config.solver.schedule = .cosine
    config.solver.warmupFactor = 1.0 / 3
    config.runtime.outputDirectory = "true"
    try roundTrip(config)
  }

  func roundTrip(_ config: SimpleDetConfig) throws {
    let folder = try ConfigFolder()
    let file = folder.url.appendingPathComponent("config.yaml")
    try config.write(to: file)
    #expect(try SimpleDetConfig.load(file: file.path) == config)
  }

  @Test func writtenKeysAreSnakeCase() throws {
    let text = try SimpleDetConfig().yaml()
    #expect(text.contains("base_lr: 0.02"))
    #expect(text.contains("pre_nms_top_n_train: 2000"))
    #expect(text.contains("roi_heads:"))
    #expect(!text.contains("roiHeads"))
  }
}

@Suite struct ConfigFileTests {
  @Test func torchvisionPresetsEqualTheSwiftPresets() throws {
    func load(_ name: String) throws -> DetectorConfiguration {
      try SimpleDetConfig.load(file: configsFolder.appendingPathComponent("torchvision/\(name).yaml").path).model.detector
    }
    #expect(try load("fasterrcnn_resnet50_fpn") == .torchvisionFasterRCNN())
    #expect(try load("fasterrcnn_resnet50_fpn_v2") == .torchvisionFasterRCNNv2())
    #expect(try load("maskrcnn_resnet50_fpn") == .torchvisionMaskRCNN())
    #expect(try load("maskrcnn_resnet50_fpn_v2") == .torchvisionMaskRCNNv2())
    #expect(try load("retinanet_resnet50_fpn") == .torchvisionRetinaNet())
    #expect(try load("retinanet_resnet50_fpn_v2") == .torchvisionRetinaNetv2())
    #expect(try load("fcos_resnet50_fpn") == .torchvisionFCOS())
  }

  @Test func cascadePresetsKeepTheDemosSettings() throws {
    func load(_ name: String) throws -> DetectorConfiguration {
      try SimpleDetConfig.load(file: configsFolder.appendingPathComponent(name).path).model.detector
    }
    let cascade = try #require(try load("shapes/cascade_rcnn_r18_fpn.yaml").roiHeads?.cascade)
    #expect(cascade.batchSizePerImage == 128 && cascade.boxHead == .twoMLP(representationSize: 256))
    #expect(cascade.stages.map(\.iouThreshold) == [0.5, 0.6, 0.7] && cascade.maskHead == nil)
    let mask = try #require(try load("shapes/cascade_mask_rcnn_r18_fpn.yaml").roiHeads?.cascade)
    #expect(mask.maskHead?.convolutions == [128, 128, 128, 128])
    let coco = try #require(try load("coco/cascade_mask_rcnn_r50_fpn_1x.yaml").roiHeads?.cascade)
    #expect(coco.stages == CascadeRoIHeadsConfiguration().stages && coco.maskHead == MaskHeadConfiguration())
    // A stage list is written and read back whole.
    let custom = try SimpleDetConfig.load(overrides: [
      "model.roi_heads={kind: cascade, stages: [{iou_threshold: 0.55, box_regression_weights: [10, 10, 5, 5], loss_weight: 1}]}",
    ])
    #expect(custom.model.roiHeads?.cascade?.stages.count == 1)
    let folder = try ConfigFolder()
    let file = folder.url.appendingPathComponent("cascade.yaml")
    try custom.write(to: file)
    #expect(try SimpleDetConfig.load(file: file.path) == custom)
  }

  /// mmdetection's cascade presets: its box coder stds as exact reciprocals, the logits averaged,
  /// and a mask head per stage; the defaults stay detectron2's.
  @Test func mmdetCascadePresetsStateMMDetectionsSettings() throws {
    func load(_ name: String) throws -> CascadeRoIHeadsConfiguration? {
      try SimpleDetConfig.load(file: configsFolder.appendingPathComponent(name).path).model.detector.roiHeads?.cascade
    }
    let boxes = try #require(try load("mmdet/cascade-rcnn_r50_fpn_1x_coco.yaml"))
    let stds: [[Double]] = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
    let reciprocals: [[Double]] = stds.map { (row: [Double]) -> [Double] in row.map { (std: Double) -> Double in 1 / std } }
    #expect(boxes.stages.map(\.boxRegressionWeights) == reciprocals)
    let thresholds: [Double] = boxes.stages.map(\.iouThreshold)
    let lossWeights: [Double] = boxes.stages.map(\.lossWeight)
    #expect(thresholds == [0.5, 0.6, 0.7] && lossWeights == [1, 0.5, 0.25])
    #expect(boxes.scoreAveraging == .logits && boxes.maskHead == nil && boxes.poolerAligned && boxes.poolerSamplingRatio == 0)
    let masks = try #require(try load("mmdet/cascade-mask-rcnn_r50_fpn_1x_coco.yaml"))
    #expect(masks.maskStages == .all && masks.maskHead?.paste == .gridSample && masks.maskHead?.samplingRatio == 0)
    #expect(masks.stages == boxes.stages && masks.scoreAveraging == .logits)
    let defaults = CascadeRoIHeadsConfiguration()
    #expect(defaults.scoreAveraging == .probabilities && defaults.maskStages == .last)
    let coco = try #require(try load("coco/cascade_mask_rcnn_r50_fpn_1x.yaml"))
    #expect(coco.scoreAveraging == .probabilities && coco.maskStages == .last)
    // A mistyped choice names the key and the choices.
    func problem(_ overrides: [String]) -> String { error { _ = try SimpleDetConfig.load(overrides: overrides) }?.description ?? "" }
    #expect(problem(["model.roi_heads={kind: cascade, score_averaging: logit}"]).contains(
      "model.roi_heads.score_averaging: 'logit' is not one of probabilities, logits"))
    #expect(problem(["model.roi_heads={kind: cascade, mask_stages: first}"]).contains(
      "model.roi_heads.mask_stages: 'first' is not one of last, all"))
  }

  /// The deformable presets are their bases with `dcn` set (C3-C5), and nothing else changed.
  @Test func deformablePresetsAreTheirBasesWithDCN() throws {
    func load(_ name: String) throws -> SimpleDetConfig {
      try SimpleDetConfig.load(file: configsFolder.appendingPathComponent(name).path)
    }
    for (preset, base, version) in [
      ("mmdet/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.yaml", "mmdet/faster-rcnn_r50_fpn_1x_coco.yaml", DeformableConvolutionVersion.v1),
      ("mmdet/faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco.yaml", "mmdet/faster-rcnn_r50_fpn_1x_coco.yaml", .v2),
      ("coco/faster_rcnn_r50_mdconv_c3c5_fpn_1x.yaml", "coco/faster_rcnn_r50_fpn_1x.yaml", .v2),
      ("shapes/faster_rcnn_r18_dcn_fpn.yaml", "shapes/demo.yaml", .v2),
    ] {
      let deformable = try load(preset).model.detector
      var expected = try load(base).model.detector
      guard case .resnet(var resnet) = expected.backbone else {
        Issue.record("\(base): not a ResNet backbone")
        continue
      }
      #expect(resnet.dcn == .none)
      resnet.dcn = version
      resnet.dcnStages = [.c3, .c4, .c5]
      expected.backbone = .resnet(resnet)
      #expect(deformable == expected, "\(preset)")
    }
  }

  @Test func c4ConfigIsTheSwiftPreset() throws {
    let c4 = try SimpleDetConfig.load(file: configsFolder.appendingPathComponent("coco/faster_rcnn_r50_c4_1x.yaml").path)
    #expect(c4.model.detector == .fasterRCNNC4())
    #expect(c4.model.neckOutputs == [FeatureMapShape(channels: 1024, stride: 16)])
  }

  @Test func eachPartKindHasItsOwnKeys() throws {
    let oneStage = ["model.rpn=null", "model.roi_heads=null"]
    let retina = try SimpleDetConfig.load(overrides: oneStage + ["model.head={kind: retinanet}", "model.head.focal_loss_gamma=1.5"])
    guard case .retinaNet(let head)? = retina.model.head else { Issue.record("not RetinaNet"); return }
    #expect(head.focalLossGamma == 1.5)
    // RetinaNet has no centre sampling: FCOS's key is unknown under its head.
    let e = error { _ = try SimpleDetConfig.load(overrides: oneStage + ["model.head={kind: retinanet, center_sampling_radius: 2}"]) }
    #expect(e == .unknownKey(path: "model.head.center_sampling_radius", source: "--set model.head={kind: retinanet, center_sampling_radius: 2}"))
    let groups = error {
      _ = try SimpleDetConfig.load(overrides: oneStage + ["model.head={kind: fcos}", "model.neck.channels=48"])
    }
    #expect(groups?.description.contains("model.head.norm") == true)
    let fcos = try SimpleDetConfig.load(overrides: oneStage + ["model.head={kind: fcos, center_sampling_radius: 2}"])
    guard case .fcos(let fcosHead)? = fcos.model.head else { Issue.record("not FCOS"); return }
    #expect(fcosHead.centerSamplingRadius == 2)
    // A written config reads back as the same model, whatever its parts.
    let folder = try ConfigFolder()
    let file = folder.url.appendingPathComponent("written.yaml")
    try fcos.write(to: file)
    #expect(try SimpleDetConfig.load(file: file.path) == fcos)
    let mask = try SimpleDetConfig.load(overrides: ["model.roi_heads.mask_head.resolution=7"])
    #expect(mask.model.roiHeads?.standard?.maskHead?.resolution == 7)
    #expect(mask.model.roiHeads?.standard?.maskHead?.convolutions == [256, 256, 256, 256])
    #expect(try SimpleDetConfig.load().model.roiHeads?.standard?.maskHead == nil)
    // Switching a part's kind starts from that kind's defaults.
    let none = try SimpleDetConfig.load(overrides: ["model.neck={kind: none}", "model.backbone.out_features=[c4]", "model.rpn.anchor_sizes=[[32, 64]]", "model.rpn.aspect_ratios=[[1.0]]"])
    #expect(none.model.neck == NeckConfiguration.none)
    let stale = error { _ = try SimpleDetConfig.load(overrides: ["model.neck={kind: none, channels: 64}"]) }
    #expect(stale == .unknownKey(path: "model.neck.channels", source: "--set model.neck={kind: none, channels: 64}"))
  }

  @Test func partsMustAgree() throws {
    func problem(_ overrides: [String]) -> String { error { _ = try SimpleDetConfig.load(overrides: overrides) }?.description ?? "" }
    #expect(problem(["model.head={kind: fcos}"]).contains("model.head: a one-stage head replaces rpn and roi_heads"))
    #expect(problem(["model.rpn=null"]).contains("model.rpn: a two-stage detector needs both rpn and roi_heads"))
    #expect(problem(["model.neck={kind: fpn, extra_levels: none}"]).contains("model.rpn.anchor_sizes: needs one list per feature level the neck gives (4), got 5"))
    #expect(problem(["model.neck={kind: none}"]).contains("model.backbone.out_features: the heads read every level with the same convolutions"))
    #expect(problem(["model.roi_heads.box_head={kind: resnet_stage}"]).contains("model.roi_heads.box_head.kind: resnet_stage runs the backbone ResNet's stage 5"))
    #expect(problem(["model.neck={kind: ssd}"]).contains("unknown neck kind 'ssd' (known: none, fpn, nas_fpn, yolov3, bifpn)"))
    #expect(problem(["model.neck.extra_levels=maxpool"]).contains("model.neck.extra_levels: 'maxpool' is not one of none, max_pool, p6p7"))
    #expect(problem(["model.backbone.out_features=[c5, c3]"]).contains("model.backbone.out_features: needs stage outputs (c2 to c5) in increasing order"))
    #expect(
      problem(["model.rpn=null", "model.roi_heads=null", "model.head={kind: retinanet, norm_per_level: true}"]).contains(
        "model.head.norm_per_level: needs a norm (model.head.norm), which is null"))
  }

  @Test func testNMSIsChosenByKind() throws {
    let soft = try SimpleDetConfig.load(overrides: ["test.nms={kind: soft, decay: gaussian, sigma: 0.4}"])
    #expect(soft.test.nms == .soft(.gaussian(sigma: 0.4), minScore: 0.001))
    #expect(soft.inferenceSettings.nms == soft.test.nms)
    let folder = try ConfigFolder()
    let file = folder.url.appendingPathComponent("soft.yaml")
    try soft.write(to: file)
    #expect(try SimpleDetConfig.load(file: file.path) == soft)
    let weighted = try SimpleDetConfig.load(overrides: ["test.nms={kind: weighted}", "test.nms.voting_threshold=0.7"])
    #expect(weighted.test.nms == .weighted(iouThreshold: 0.5, votingThreshold: 0.7))
    #expect(try SimpleDetConfig.load().inferenceSettings.nms == nil)
    func problem(_ overrides: [String]) -> String { error { _ = try SimpleDetConfig.load(overrides: overrides) }?.description ?? "" }
    #expect(problem(["test.nms={kind: soft, decay: cubic}"]).contains("test.nms.decay: 'cubic' is not one of linear, gaussian"))
    #expect(problem(["test.nms={kind: standard, sigma: 0.5}"]).contains("unknown key 'test.nms.sigma'"))
    #expect(problem(["test.nms={kind: soft, min_score: 2}"]).contains("test.nms.min_score: must be between 0.0 and 1.0, got 2.0"))
    #expect(try SimpleDetConfig.load(overrides: ["test.nms={kind: wbf}"]).test.nms == .wbf(iouThreshold: 0.55))
  }

  @Test func testAugmentationRoundTripsAndFillsItsMergeMethod() throws {
    let config = try SimpleDetConfig.load(overrides: [
      "test.augment={scales: [600, 800], flip: true}", "test.augment.merge={kind: wbf, iou_threshold: 0.6}",
    ])
    #expect(config.test.augment == TestAugmentation(scales: [600, 800], flip: true, merge: .wbf(iouThreshold: 0.6)))
    #expect(config.inferenceSettings.augment == config.test.augment)
    let folder = try ConfigFolder()
    let file = folder.url.appendingPathComponent("tta.yaml")
    try config.write(to: file)
    #expect(try SimpleDetConfig.load(file: file.path) == config)
    // Flip alone; the merge falls back to test.nms.
    let flip = try SimpleDetConfig.load(overrides: ["test.augment={flip: true}"])
    #expect(flip.test.augment == TestAugmentation(flip: true))
    #expect(try SimpleDetConfig.load().inferenceSettings.augment == nil)
    func problem(_ overrides: [String]) -> String { error { _ = try SimpleDetConfig.load(overrides: overrides) }?.description ?? "" }
    #expect(problem(["test.augment={scales: [600, 10]}"]).contains("test.augment.scales.1: must be between 32 and 8192, got 10"))
    #expect(problem(["test.augment={flips: true}"]).contains("unknown key 'test.augment.flips'"))
    #expect(problem(["test.augment={merge: {kind: soft, decay: linear, iou_threshold: 3}}"]).contains("test.augment.merge.iou_threshold"))
  }

  /// The issue's example of parts no preset combines: FCOS's head on a ResNet-18 with a group
  /// norm FPN, from a config alone.
  @Test func unpresetCombinationsBuildFromAConfig() throws {
    let folder = try ConfigFolder()
    let file = try folder.write(
      "fcos_r18_gn.yaml",
      """
      model:
        classes: 4
        backbone: {kind: resnet, depth: 18, norm: BN, frozen_stages: 0, out_features: [c3, c4, c5]}
        neck: {kind: fpn, channels: 64, norm: GN, extra_levels: p6p7}
        rpn: null
        roi_heads: null
        head: {kind: fcos}
      """)
    let config = try SimpleDetConfig.load(file: file)
    let model = config.model.detector.makeDetector()
    #expect(model is DenseDetector)
    #expect(config.model.neckOutputs.map(\.stride) == [8, 16, 32, 64, 128])
  }

  @Test func shapesConfigInheritsAndBuilds() throws {
    let config = try SimpleDetConfig.load(file: configsFolder.appendingPathComponent("shapes/faster_rcnn_r18_fpn.yaml").path)
    #expect(config.model.backbone.resNet?.depth == 18)
    #expect(config.model.classes == 4)
    #expect(config.data.kind == .shapes)
    #expect(config.data.transforms == [.randomHorizontalFlip(RandomHorizontalFlip(probability: 0.5))])  // from _base_
    #expect(config.solver.momentum == 0.9)
    #expect(config.solver.maxIterations == 3000)
    let model = GeneralizedRCNN(config.model.detector)
    #expect(model.roiHeads.classes == 4)
  }

  @Test func everyConfigFileDecodes() throws {
    let files = FileManager.default.enumerator(at: configsFolder, includingPropertiesForKeys: nil)!
      .compactMap { $0 as? URL }.filter { $0.pathExtension == "yaml" }
    #expect(files.count >= 4)
    for file in files {
      _ = try SimpleDetConfig.load(file: file.path)
    }
  }

  @Test func solverMapsToNNSchedule() throws {
    let config = try SimpleDetConfig.load(overrides: ["solver.warmup_iters=0", "solver.steps=[10]", "solver.gamma=0.5"])
    #expect(config.solver.learningRateSchedule.factor(at: 9) == 1)
    #expect(config.solver.learningRateSchedule.factor(at: 10) == 0.5)
  }
}

/// The data kinds of the converted datasets and their two keys.
@Suite struct DatasetKindTests {
  @Test func kittiClassesAndCrowdHumanBoxDecode() throws {
    let kitti = try SimpleDetConfig.load(overrides: ["data.kind=kitti", "data.classes=[Car+Van, Pedestrian, Cyclist]"])
    #expect(kitti.data.kind == .kitti && kitti.data.kind.format == .kitti)
    #expect(kitti.data.classes == ["Car+Van", "Pedestrian", "Cyclist"])
    let crowd = try SimpleDetConfig.load(overrides: ["data.kind=crowdhuman", "data.crowdhuman_box=hbox"])
    #expect(crowd.data.crowdhumanBox == .head && crowd.data.kind.format == .crowdHuman)
    #expect(try SimpleDetConfig.load(overrides: ["data.kind=wider_face"]).data.kind.format == .widerFace)
    #expect(try SimpleDetConfig.load(overrides: ["data.kind=cityscapes"]).data.kind.format == .cityscapes)
    let dota = try SimpleDetConfig.load(overrides: ["data.kind=dota", "data.dota_version=1.5"])
    #expect(dota.data.kind.format == .dota && dota.data.dotaVersion == .v1_5 && SimpleDetConfig().data.dotaVersion == .v1_0)
    #expect(error { _ = try SimpleDetConfig.load(overrides: ["data.dota_version=3.0"]) } != nil)
    #expect(try SimpleDetConfig.load(overrides: ["data.kind=deeplesion"]).data.kind.format == .deeplesion)
    #expect(try SimpleDetConfig.load(overrides: ["data.kind=kitchen"]).data.kind.format == .kitchen)
    #expect(SimpleDetConfig().data.classes.isEmpty && SimpleDetConfig().data.crowdhumanBox == .full)
  }

  @Test func classesAreCheckedAndOnlyForKITTI() throws {
    #expect(error { _ = try SimpleDetConfig.load(overrides: ["data.kind=kitti", "data.classes=[Car, Bus]"]) }?.description.contains("data.classes: 'Bus' in 'Bus' is not a KITTI object type") == true)
    #expect(error { _ = try SimpleDetConfig.load(overrides: ["data.kind=coco", "data.classes=[Car]"]) }?.description.contains("data.classes: is for kitti data only") == true)
    #expect(error { _ = try SimpleDetConfig.load(overrides: ["data.kitti_classes=[Car]"]) } == .unknownKey(path: "data.kitti_classes", source: "--set data.kitti_classes=[Car]"))
  }
}
