import Detection
import Foundation
import NN
import Testing
import Torch

@testable import Config

/// Every backbone × neck × head combination the part tables allow, at a tiny size: each config is
/// checked as a loaded one would be, then trains one step and detects. The example parts come
/// from exhaustive switches over each family's kinds, so a new kind does not compile until it
/// has an example here, and from then on it is run against every existing part.
@Suite(.serialized) struct PartMatrixTests {
  /// Narrow examples of each backbone kind, with the stage outputs a neck may take. TridentNet's
  /// branching backbone hands on one map to two-stage heads without a neck (its C4 layout; the
  /// config check refuses the rest).
  static func backbones(_ features: [ResNetFeature], neck: NeckConfiguration, twoStage: Bool, resNetBoxHead: Bool = false)
    -> [(String, BackboneConfiguration)]
  {
    BackboneConfiguration.Kind.allCases.flatMap { kind -> [(String, BackboneConfiguration)] in
      switch kind {
      case .resnet:
        return [
          ("resnet18", .resnet(ResNet.Configuration(depth: 18, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: features))),
          ("resnet50-frozen", .resnet(ResNet.Configuration(depth: 50, frozenStages: 1, baseChannels: 8, outFeatures: features))),
          ("resnet18-dcnv2", .resnet(deformable(features))),
        ]
      case .trident:
        guard twoStage, neck == .none, features.count == 1 else { return [] }
        var trident = TridentConfiguration()
        trident.resNet = ResNet.Configuration(depth: 18, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: features)
        trident.validRanges = [[0, 32], [16, 48], [32, -1]]
        return [("trident18", .trident(trident))]
      case .darknet:
        // With the dense heads (a two-stage detector on it would only repeat the ResNets' checks).
        guard !twoStage else { return [] }
        var darknet = Darknet.Configuration()
        darknet.baseChannels = 4
        darknet.outIndices = features.map { ResNetFeature.allCases.firstIndex(of: $0)! + 2 }
        return [("darknet53-narrow", .darknet(darknet))]
      case .efficientNet:
        // The C4 box head continues a ResNet (the config check refuses it on an EfficientNet).
        guard !resNetBoxHead else { return [] }
        return [("efficientnet-narrow", .efficientNet(narrowEfficientNet(features)))]
      }
    }
  }

  /// A B0 at a quarter of its width and one block per stage, with stochastic depth.
  static func narrowEfficientNet(_ features: [ResNetFeature]) -> EfficientNetConfiguration {
    var c = EfficientNetConfiguration(outFeatures: features)
    c.widthMultiplier = 0.25
    c.depthMultiplier = 0.25
    c.stochasticDepth = 0.5
    return c
  }

  /// A ResNet-18 with modulated deformable convolutions in stages 3 to 5.
  static func deformable(_ features: [ResNetFeature]) -> ResNet.Configuration {
    var c = ResNet.Configuration(depth: 18, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: features)
    c.dcn = .v2
    return c
  }

  /// Each neck kind, with the backbone outputs it reads for a two-stage (`c2`…) or dense head.
  static func necks(dense: Bool) -> [(String, NeckConfiguration, [ResNetFeature])] {
    NeckConfiguration.Kind.allCases.flatMap { kind -> [(String, NeckConfiguration, [ResNetFeature])] in
      switch kind {
      case .none:
        [("none", .none, [.c4])]
      case .fpn:
        dense
          ? [
            ("fpn-p6p7", .fpn(FPNConfiguration(channels: 32, extraLevels: .p6p7, extraInput: .c5)), [.c3, .c4, .c5]),
            ("fpn-gn-p6p7", .fpn(FPNConfiguration(channels: 32, norm: .groupNorm, extraLevels: .p6p7, reluBeforeP7: false)), [.c3, .c4, .c5]),
          ]
          : [
            ("fpn", .fpn(FPNConfiguration(channels: 32)), [.c2, .c3, .c4, .c5]),
            ("fpn-bn-no-extra", .fpn(FPNConfiguration(channels: 32, norm: .batchNorm, extraLevels: .none)), [.c2, .c3, .c4]),
          ]
      case .nasFPN:
        // Group norm: batch norm's statistics of P7's single pixel from one image are undefined.
        [("nas-fpn-gn", .nasFPN(NASFPNConfiguration(channels: 32, repeats: 2, norm: .groupNorm)), [.c3, .c4, .c5])]
      case .yolov3:
        // Equal channels on every level, so that the heads sharing their convolutions read it
        // too; the RPN would, but its anchors per level are the RPN's business, not this neck's.
        dense ? [("yolov3", .yolov3(yolov3Neck(channels: [32, 32, 32])), [.c3, .c4, .c5])] : []
      case .biFPN:
        // Group norm, as NAS-FPN's: P7 is a single pixel.
        [("bifpn-gn", .biFPN(BiFPNConfiguration(channels: 32, repeats: 2, norm: .groupNorm)), [.c3, .c4, .c5])]
      }
    }
  }

  /// A YOLOv3 neck with `channels` per level.
  static func yolov3Neck(channels: [Int]) -> YOLOV3NeckConfiguration {
    var c = YOLOV3NeckConfiguration()
    c.channels = channels
    return c
  }

  /// Each head: every RoI heads kind with every box-head kind (with and without a mask branch),
  /// and the dense heads.
  enum Head: CustomStringConvertible {
    case twoStage(RoIHeadsPart.Kind, BoxHeadKind, mask: Bool)
    case dense(DenseHeadConfiguration.Kind)

    static var all: [Head] {
      RoIHeadsPart.Kind.allCases.flatMap { roiKind in
        BoxHeadKind.Kind.allCases.flatMap { kind -> [Head] in
          let box: BoxHeadKind =
            switch kind {
            case .twoMLP: .twoMLP(representationSize: 32)
            case .convFC: .convFC(convolutions: [32], fullyConnected: [32], norm: .groupNorm)
            case .resNetStage: .resNetStage
            }
          return [.twoStage(roiKind, box, mask: false), .twoStage(roiKind, box, mask: true)]
        }
      } + DenseHeadConfiguration.Kind.allCases.map { .dense($0) }
    }

    var description: String {
      switch self {
      case .twoStage(let roiKind, let box, let mask): "\(roiKind.rawValue) \(box.kind.rawValue)\(mask ? "+mask" : "")"
      case .dense(let kind): kind.rawValue
      }
    }
  }

  /// The combinations, as named configs.
  static var combinations: [(String, DetectorConfiguration)] {
    Head.all.flatMap { head -> [(String, DetectorConfiguration)] in
      var isDense = false
      if case .dense = head { isDense = true }
      return necks(dense: isDense).flatMap { neckName, neck, features -> [(String, DetectorConfiguration)] in
        // The C4 box head is the backbone's stage 5, so the backbone stops before it.
        var features = features
        if case .twoStage(_, .resNetStage, _) = head {
          // NAS-FPN needs C3-C5, which a C4 layout does not give (the config check says so).
          if case .nasFPN = neck { return [] }
          if case .biFPN = neck { return [] }
          features.removeAll { $0 == .c5 }
        }
        var resNetBoxHead = false
        if case .twoStage(_, .resNetStage, _) = head { resNetBoxHead = true }
        return backbones(features, neck: neck, twoStage: !isDense, resNetBoxHead: resNetBoxHead).map { backboneName, backbone in
          ("\(backboneName) + \(neckName) + \(head)", configuration(backbone: backbone, neck: neck, head: head))
        }
      }
    }
  }

  static func configuration(backbone: BackboneConfiguration, neck: NeckConfiguration, head: Head) -> DetectorConfiguration {
    var c = DetectorConfiguration()
    c.classes = 4
    c.backbone = backbone
    c.neck = neck
    c.transform = ImageTransform(minSize: [64], maxSize: 64)
    if case .nasFPN = neck { c.transform.sizeDivisible = 128 }
    if case .biFPN = neck { c.transform.sizeDivisible = 128 }
    let strides = c.neckOutputs.map { Double($0.stride) }
    switch head {
    case .twoStage(let roiKind, let box, let mask):
      var rpn = RPNConfiguration()
      rpn.anchorSizes = strides.map { [$0 * 4] }
      rpn.aspectRatios = strides.map { _ in [0.5, 1, 2] }
      (rpn.preNMSTopNTrain, rpn.postNMSTopNTrain, rpn.preNMSTopNTest, rpn.postNMSTopNTest) = (100, 50, 50, 20)
      rpn.batchSizePerImage = 32
      c.rpn = rpn
      var maskHead: MaskHeadConfiguration? = nil
      if mask {
        maskHead = MaskHeadConfiguration()
        maskHead!.convolutions = [16]
        maskHead!.predictorChannels = 16
      }
      let c4 = box == .resNetStage
      switch roiKind {
      case .standard:
        var roiHeads = RoIHeadsConfiguration()
        roiHeads.boxHead = box
        roiHeads.batchSizePerImage = 16
        if c4 { (roiHeads.poolerResolution, roiHeads.poolerSamplingRatio, roiHeads.poolerAligned) = (14, 0, true) }
        roiHeads.maskHead = maskHead
        c.roiHeads = .standard(roiHeads)
      case .cascade:
        var roiHeads = CascadeRoIHeadsConfiguration()
        roiHeads.boxHead = box
        roiHeads.batchSizePerImage = 16
        if c4 { (roiHeads.poolerResolution, roiHeads.poolerSamplingRatio, roiHeads.poolerAligned) = (14, 0, true) }
        roiHeads.maskHead = maskHead
        c.roiHeads = .cascade(roiHeads)
      }
    case .dense(let kind):
      c.rpn = nil
      c.roiHeads = nil
      switch kind {
      case .retinaNet:
        var r = RetinaNetHeadConfiguration()
        r.anchorSizes = strides.map { [$0 * 4, $0 * 5] }
        r.aspectRatios = strides.map { _ in [0.5, 1, 2] }
        r.norm = .groupNorm
        c.head = .retinaNet(r)
      case .fcos:
        var f = FCOSHeadConfiguration()
        f.anchorSizes = strides
        c.head = .fcos(f)
      case .yolov3:
        var y = YOLOV3HeadConfiguration()
        y.anchorSizes = strides.map { [[$0 * 2, $0 * 2], [$0 * 4, $0 * 3], [$0 * 3, $0 * 4]] }
        c.head = .yolov3(y)
      }
    }
    return c
  }

  @Test func everyCombinationIsValidTrainsAndDetects() throws {
    Torch.threadCount = 2
    let combinations = Self.combinations
    // Two-stage: 3 ResNets × (5 necks × 2 RoI heads kinds × 3 box heads × 2, less NAS-FPN and
    // BiFPN with the C4 box head), TridentNet with no neck × 2 × 3 × 2, and the EfficientNet as a
    // ResNet less the C4 box head. Dense: 3 ResNets, the Darknet and the EfficientNet × 6 necks ×
    // 3 dense heads.
    #expect(combinations.count == 3 * (5 * 2 * 3 * 2 - 2 * 2 * 2) + 2 * 3 * 2 + 5 * 2 * 2 * 2 + 5 * 6 * 3)
    let image = Tensor.rand([3, 64, 64], generator: Generator(seed: 1))
    let boxes = Tensor([Float(8), 8, 40, 36, 20, 30, 60, 62], shape: [2, 4])
    let masks = Tensor.zeros([2, 64, 64], dtype: .uint8)
    masks[0, 8..<36, 8..<40] = Tensor(scalar: UInt8(1))
    masks[1, 30..<62, 20..<60] = Tensor(scalar: UInt8(1))
    let target = Instances(imageSize: (64, 64), fields: ["boxes": boxes, "labels": Tensor([Int64(1), 3]), "masks": masks])
    for (name, detector) in combinations {
      var config = SimpleDetConfig()
      config.model.detector = detector
      let problem = config.firstProblem()
      #expect(problem == nil, "\(name): \(problem.map { "\($0.0): \($0.1)" } ?? "")")
      guard problem == nil else { continue }
      // A config file spelling these parts reads back as the same detector.
      #expect(try ConfigTree.encoding(config).decoded(as: SimpleDetConfig.self) == config, "\(name) round trip")

      let model = detector.makeDetector()
      model.train()
      let losses = model.losses([image], targets: [target])
      let total = losses.values.dropFirst().reduce(losses.values.first!, +)
      total.backward()
      let finite = total.doubleValue().isFinite
      #expect(finite, "\(name): loss \(total.doubleValue())")
      #expect(detector.hasMasks == (losses["loss_mask"] != nil), "\(name): mask loss")
      if case .cascade(let cascade)? = detector.roiHeads {
        #expect(losses.keys.filter { $0.hasPrefix("loss_box_reg_stage") }.count == cascade.stages.count, "\(name): stages")
      }
      let trained = model.namedParameters().filter { $0.1.requiresGrad && $0.1.grad != nil }.count
      #expect(trained > 0, "\(name): no gradients")

      model.eval()
      model.inference.scoreThreshold = 0
      let found = model.detect([image])[0]
      #expect(found.imageSize.height == 64 && found.count > 0, "\(name): \(found.count) detections")
      #expect((found["masks"] != nil) == detector.hasMasks, "\(name): masks")
    }
  }
}

/// Every norm kind wherever a norm is configured: the backbone, the FPN, the conv_fc box head and
/// the mask head of a two-stage detector (which trains one step and detects), and a RetinaNet
/// head's towers and an EfficientNet backbone (checked). `NormKind.allCases` picks up a new kind
/// by itself.
@Suite(.serialized) struct NormMatrixTests {
  @Test(arguments: NormKind.allCases)
  func everyNormTrainsWhereverNormsAreConfigured(norm: NormKind) throws {
    Torch.threadCount = 2
    let features: [ResNetFeature] = [.c2, .c3, .c4]
    let backbone = BackboneConfiguration.resnet(
      ResNet.Configuration(depth: 18, norm: norm, frozenStages: 0, baseChannels: 32, outFeatures: features))
    let neck = NeckConfiguration.fpn(FPNConfiguration(channels: 32, norm: norm, extraLevels: .none))
    var twoStage = PartMatrixTests.configuration(
      backbone: backbone, neck: neck,
      head: .twoStage(.standard, .convFC(convolutions: [32], fullyConnected: [32], norm: norm), mask: true))
    if case .standard(var heads)? = twoStage.roiHeads {
      heads.maskHead?.convolutions = [32]
      heads.maskHead?.norm = norm
      twoStage.roiHeads = .standard(heads)
    }
    let denseBackbone = BackboneConfiguration.resnet(
      ResNet.Configuration(depth: 18, norm: norm, frozenStages: 0, baseChannels: 32, outFeatures: [.c3, .c4, .c5]))
    var dense = PartMatrixTests.configuration(
      backbone: denseBackbone,
      neck: .fpn(FPNConfiguration(channels: 32, norm: norm, extraLevels: .p6p7, extraInput: .c5)), head: .dense(.retinaNet))
    if case .retinaNet(var head)? = dense.head {
      head.norm = norm
      dense.head = .retinaNet(head)
    }

    let image = Tensor.rand([3, 64, 64], generator: Generator(seed: 1))
    let boxes = Tensor([Float(8), 8, 40, 36, 20, 30, 60, 62], shape: [2, 4])
    let masks = Tensor.zeros([2, 64, 64], dtype: .uint8)
    masks[0, 8..<36, 8..<40] = Tensor(scalar: UInt8(1))
    masks[1, 30..<62, 20..<60] = Tensor(scalar: UInt8(1))
    let target = Instances(imageSize: (64, 64), fields: ["boxes": boxes, "labels": Tensor([Int64(1), 3]), "masks": masks])
    // The dense detector is checked, not run: batch norm over P7's single pixel of one image
    // has no statistics (the part matrix runs its heads with group norm for that reason).
    var denseConfig = SimpleDetConfig()
    denseConfig.model.detector = dense
    #expect(denseConfig.firstProblem() == nil, "\(norm.rawValue) retinanet: \(String(describing: denseConfig.firstProblem()))")
    #expect(try ConfigTree.encoding(denseConfig).decoded(as: SimpleDetConfig.self) == denseConfig, "\(norm.rawValue) retinanet round trip")
    for (name, detector) in [("two-stage", twoStage)] {
      var config = SimpleDetConfig()
      config.model.detector = detector
      let problem = config.firstProblem()
      #expect(problem == nil, "\(norm.rawValue) \(name): \(problem.map { "\($0.0): \($0.1)" } ?? "")")
      guard problem == nil else { continue }
      #expect(try ConfigTree.encoding(config).decoded(as: SimpleDetConfig.self) == config, "\(norm.rawValue) \(name) round trip")
      let model = detector.makeDetector()
      model.train()
      let losses = model.losses([image], targets: [target])
      let total = losses.values.dropFirst().reduce(losses.values.first!, +)
      total.backward()
      #expect(total.doubleValue().isFinite, "\(norm.rawValue) \(name): loss \(total.doubleValue())")
      model.eval()
      model.inference.scoreThreshold = 0
      #expect(model.detect([image])[0].count > 0, "\(norm.rawValue) \(name): no detections")
    }

    // EfficientNet takes the batch norms only.
    var efficient = PartMatrixTests.configuration(
      backbone: .efficientNet(PartMatrixTests.narrowEfficientNet([.c3, .c4, .c5])),
      neck: .fpn(FPNConfiguration(channels: 32, extraLevels: .p6p7, extraInput: .c5)), head: .dense(.retinaNet))
    if case .efficientNet(var net) = efficient.backbone {
      net.norm = norm
      efficient.backbone = .efficientNet(net)
    }
    var config = SimpleDetConfig()
    config.model.detector = efficient
    let accepted = [NormKind.batchNorm, .syncBatchNorm, .frozenBatchNorm].contains(norm)
    #expect((config.firstProblem() == nil) == accepted, "efficientnet with \(norm.rawValue)")
  }
}

@Suite struct C4DetectorTests {
  /// Detectron2's R50-C4 layout: the backbone stops at C4, stage 5 lives in the box head and its
  /// first block strides the 14×14 pooled maps down to 7×7.
  @Test func stageFiveMovesIntoTheBoxHead() throws {
    let model = try #require(DetectorConfiguration.fasterRCNNC4().makeDetector() as? GeneralizedRCNN)
    let state = model.stateDict()
    #expect(state["backbone.body.layer3.5.conv3.weight"]?.shape == [1024, 256, 1, 1])
    #expect(!state.keys.contains { $0.hasPrefix("backbone.body.layer4") || $0.hasPrefix("backbone.fpn") })
    #expect(state["roi_heads.box_head.layer4.0.conv2.weight"]?.shape == [512, 512, 3, 3])
    #expect(state["roi_heads.box_head.layer4.0.downsample.0.weight"]?.shape == [2048, 1024, 1, 1])
    #expect(state["roi_heads.box_predictor.cls_score.weight"]?.shape == [81, 2048])
    #expect(state["rpn.head.cls_logits.weight"]?.shape == [15, 1024, 1, 1])
    let pooled = Tensor.zeros([2, 1024, 14, 14])
    let heads = try #require(model.roiHeads as? RoIHeads)
    #expect(withNoGrad { heads.boxHead(pooled) }.shape == [2, 2048])
  }
}
