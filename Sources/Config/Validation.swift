import Data
import Detection

/// The first failed check, as (key path, reason): values of the right type that still make no
/// sense, found when the config loads, so that no value a user writes reaches a precondition or
/// a libtorch error deep in a run.
private struct Checks {
  var first: (String, String)?

  mutating func require(_ condition: @autoclosure () -> Bool, _ path: String, _ reason: @autoclosure () -> String) {
    if first == nil, !condition() { first = (path, reason()) }
  }

  mutating func range<T: Comparable>(_ value: T, _ bounds: ClosedRange<T>, _ path: String) {
    require(bounds.contains(value), path, "must be between \(bounds.lowerBound) and \(bounds.upperBound), got \(value)")
  }

  /// An IoU pair: 0 <= background <= foreground <= 1.
  mutating func thresholds(background: Double, foreground: Double, prefix: String) {
    range(foreground, 0...1, prefix + "foreground_iou")
    range(background, 0...max(foreground, 0), prefix + "background_iou")
  }

  /// Anchor sizes and aspect ratios per level: one list per map the neck gives, positive
  /// values, the same number of anchors at every level (the heads share their convolutions), and
  /// `strides` either empty or one per level.
  mutating func anchors(sizes: [[Double]], aspectRatios: [[Double]], strides: [Int], levels: Int, prefix: String) {
    require(
      sizes.count == levels, prefix + "anchor_sizes",
      "needs one list per feature level the neck gives (\(levels)), got \(sizes.count)")
    require(
      strides.isEmpty || (strides.count == sizes.count && strides.allSatisfy { $0 > 0 }), prefix + "anchor_strides",
      "needs one positive stride per level (\(sizes.count)), or [] to take them from the feature sizes")
    require(aspectRatios.count == sizes.count, prefix + "aspect_ratios", "needs one list per level, as many as anchor_sizes (\(sizes.count))")
    require(sizes.joined().allSatisfy { $0 > 0 } && sizes.allSatisfy { !$0.isEmpty }, prefix + "anchor_sizes", "needs positive sizes at every level")
    require(aspectRatios.joined().allSatisfy { $0 > 0 } && aspectRatios.allSatisfy { !$0.isEmpty }, prefix + "aspect_ratios", "needs positive ratios at every level")
    let perLevel = Set(zip(sizes, aspectRatios).map { $0.count * $1.count })
    require(perLevel.count <= 1, prefix + "anchor_sizes", "every level needs the same number of anchors (sizes × ratios)")
  }

  /// NAS-FPN and BiFPN: three consecutive backbone maps (C3–C5) become P3–P7, so the padded
  /// image must divide by P7's stride, the finest level's × 16, for every level to halve exactly.
  mutating func fiveLevelPyramid(neck: String, from strides: [Int], sizeDivisible: Int) {
    require(
      strides.count == 3 && strides[1] == 2 * strides[0] && strides[2] == 2 * strides[1], "model.backbone.out_features",
      "neck kind \(neck) reads three consecutive stage outputs (e.g. [c3, c4, c5]), got \(strides.count) at strides \(strides)")
    let coarsest = (strides.first ?? 8) * 16
    require(
      sizeDivisible % coarsest == 0, "model.transform.size_divisible",
      "neck kind \(neck) halves its coarsest level down to stride \(coarsest): needs a multiple of \(coarsest), got \(sizeDivisible)")
  }

  /// What the one-stage heads share: focal loss, prior, and post-processing.
  mutating func denseHead(
    alpha: Double, gamma: Double, prior: Double, score: Double, topCandidates: Int, nms: Double, detections: Int
  ) {
    range(alpha, 0...1, "model.head.focal_loss_alpha")
    range(gamma, 0...10, "model.head.focal_loss_gamma")
    require(prior > 0 && prior < 1, "model.head.prior_probability", "must be between 0 and 1 (exclusive), got \(prior)")
    range(score, 0...1, "model.head.score_threshold")
    range(topCandidates, 1...100_000, "model.head.top_candidates")
    range(nms, 0.01...1, "model.head.nms_threshold")
    range(detections, 1...10_000, "model.head.detections_per_image")
  }
}

extension SimpleDetConfig {
  /// Values of the right type that still make no sense, as (key path, reason).
  func firstProblem() -> (String, String)? {
    var c = Checks()
    checkModel(&c)
    checkData(&c)
    checkSolver(&c)
    checkTestAndRuntime(&c)
    return c.first
  }

  private func checkModel(_ c: inout Checks) {
    let detector = model.detector
    c.range(detector.classes, 2...100_000, "model.classes")
    checkBackbone(&c)
    if let quantize = detector.quantize {
      c.require(!quantize.layers.isEmpty, "model.quantize.layers", "needs at least one of conv, linear")
      c.require(quantize.decay >= 0 && quantize.decay < 1, "model.quantize.decay", "must be at least 0 and below 1, got \(quantize.decay)")
      c.range(quantize.delay, 0...100_000_000, "model.quantize.delay")
    }

    let transform = detector.transform
    c.require(!transform.minSize.isEmpty, "model.transform.min_size", "needs at least one size")
    for size in transform.minSize { c.range(size, 32...8192, "model.transform.min_size") }
    c.range(transform.maxSize, 32...8192, "model.transform.max_size")
    c.require(transform.mean.count == 3, "model.transform.mean", "needs 3 values (R, G, B)")
    c.require(transform.std.count == 3 && transform.std.allSatisfy { $0 > 0 }, "model.transform.std", "needs 3 positive values (R, G, B)")
    c.range(transform.sizeDivisible, 1...512, "model.transform.size_divisible")

    if case .fpn(let fpn) = detector.neck {
      c.range(fpn.channels, 1...4096, "model.neck.channels")
      groupNorm(&c, channels: fpn.channels, used: fpn.norm == .groupNorm, path: "model.neck.norm")
    }
    if case .nasFPN(let nas) = detector.neck {
      c.range(nas.channels, 1...4096, "model.neck.channels")
      c.range(nas.repeats, 1...64, "model.neck.repeats")
      groupNorm(&c, channels: nas.channels, used: nas.norm == .groupNorm, path: "model.neck.norm")
      c.fiveLevelPyramid(neck: "nas_fpn", from: detector.backbone.outputShapes.map(\.stride), sizeDivisible: detector.transform.sizeDivisible)
    }
    if case .yolov3(let yolo) = detector.neck { checkYOLOV3Neck(&c, yolo) }
    if case .biFPN(let bifpn) = detector.neck {
      c.range(bifpn.channels, 1...4096, "model.neck.channels")
      c.range(bifpn.repeats, 1...64, "model.neck.repeats")
      c.require(bifpn.fusionEpsilon > 0, "model.neck.fusion_epsilon", "must be above 0 (it keeps the fusion's divisor away from 0), got \(bifpn.fusionEpsilon)")
      groupNorm(&c, channels: bifpn.channels, used: bifpn.norm == .groupNorm, path: "model.neck.norm")
      c.fiveLevelPyramid(neck: "bifpn", from: detector.backbone.outputShapes.map(\.stride), sizeDivisible: detector.transform.sizeDivisible)
    }
    // Most heads share their convolutions across levels, so every map they read has one width.
    let levels = detector.neckOutputs
    c.require(
      Set(levels.map(\.channels)).count <= 1 || detector.head?.sharesConvolutionsAcrossLevels == false,
      detector.backbone.kind == .darknet ? "model.backbone.out_indices" : "model.backbone.out_features",
      "the heads read every level with the same convolutions, so the maps need equal channels; with neck kind none, name one feature")

    switch (detector.rpn, detector.roiHeads, detector.head) {
    case (let rpn?, let roiHeads?, nil):
      checkTwoStage(&c, rpn: rpn, roiHeads: roiHeads, levels: levels.count)
    case (nil, nil, let head?):
      checkDenseHead(&c, head, levels: levels)
    case (_, _, _?):
      c.require(false, "model.head", "a one-stage head replaces rpn and roi_heads: set those to null")
    default:
      c.require(false, detector.rpn == nil ? "model.rpn" : "model.roi_heads", "a two-stage detector needs both rpn and roi_heads (a one-stage one sets head instead)")
    }
  }

  private func checkBackbone(_ c: inout Checks) {
    let detector = model.detector
    if let darknet = detector.backbone.darknet { checkDarknet(&c, darknet) }
    if let efficientNet = detector.backbone.efficientNet { checkEfficientNet(&c, efficientNet) }
    guard let backbone = detector.backbone.resNet else { return }
    c.require([18, 34, 50, 101, 152].contains(backbone.depth), "model.backbone.depth", "must be 18, 34, 50, 101 or 152")
    c.range(backbone.baseChannels, 8...1024, "model.backbone.base_channels")
    c.range(backbone.groups, 1...256, "model.backbone.groups")
    c.range(backbone.widthPerGroup, 1...1024, "model.backbone.width_per_group")
    c.range(backbone.frozenStages, 0...5, "model.backbone.frozen_stages")
    c.require(
      backbone.norm != .groupNorm || backbone.baseChannels % 32 == 0, "model.backbone.norm",
      "group norm needs base_channels that are a multiple of 32 (it uses 32 groups), got \(backbone.baseChannels)")
    c.require(
      backbone.iabnSlope > 0 && backbone.iabnSlope < 1, "model.backbone.iabn_slope",
      "the leaky ReLU slope of IABN must be above 0 and below 1 (backward divides by it), got \(backbone.iabnSlope)")
    let stages = backbone.outFeatures.map(\.rawValue)
    c.require(
      !stages.isEmpty && stages == stages.sorted() && Set(stages).count == stages.count, "model.backbone.out_features",
      "needs stage outputs (c2 to c5) in increasing order, each once")
    guard let trident = detector.backbone.trident else { return }
    c.require(
      backbone.outFeatures.count == 1, "model.backbone.out_features",
      "a trident backbone hands on one map, its branching stage's (e.g. [c4]), got \(stages)")
    c.require(
      detector.rpn != nil && detector.roiHeads != nil && detector.neck == .none, "model.backbone.kind",
      "trident needs a two-stage detector without a neck (rpn, roi_heads, neck kind none), as TridentNet's C4 layout")
    c.require(
      !trident.dilations.isEmpty && trident.dilations.allSatisfy { (1...16).contains($0) }, "model.backbone.dilations",
      "needs one dilation per branch, each 1 to 16, got \(trident.dilations)")
    if let test = trident.testBranch {
      c.require(
        trident.dilations.indices.contains(test), "model.backbone.test_branch",
        "must name a branch, 0 to \(trident.dilations.count - 1), or be null for all of them, got \(test)")
    }
    c.require(
      trident.validRanges.isEmpty || trident.validRanges.count == trident.dilations.count, "model.backbone.valid_ranges",
      "needs one [low, high] range per branch (\(trident.dilations.count)) or none, got \(trident.validRanges.count)")
    for range in trident.validRanges {
      c.require(
        range.count == 2 && range[0] >= 0 && (range[1] < 0 || range[1] > range[0]), "model.backbone.valid_ranges",
        "each range is [low, high] with 0 <= low < high (high -1: unbounded), got \(range)")
    }
    let branching = backbone.outFeatures.last.map { stage in backbone.dcnStages.contains(stage) } ?? false
    c.require(
      backbone.dcn == .none || !branching, "model.backbone.dcn_stages",
      "the trident stage's 3x3 convolutions are TridentNet's dilated ones, so it cannot also be deformable: leave it out of dcn_stages")
  }

  private func checkDarknet(_ c: inout Checks, _ darknet: Darknet.Configuration) {
    c.require(darknet.depth == 53, "model.backbone.depth", "must be 53 (the only Darknet mmdetection defines), got \(darknet.depth)")
    c.range(darknet.baseChannels, 2...1024, "model.backbone.base_channels")
    c.require(
      darknet.norm != .groupNorm || darknet.baseChannels % 32 == 0, "model.backbone.norm",
      "group norm needs base_channels that are a multiple of 32 (it uses 32 groups), got \(darknet.baseChannels)")
    let indices = darknet.outIndices
    c.require(
      !indices.isEmpty && indices.allSatisfy { (0...5).contains($0) } && indices == indices.sorted() && Set(indices).count == indices.count,
      "model.backbone.out_indices", "needs parts 0 (the stem) to 5 in increasing order, each once, got \(indices)")
    c.range(darknet.frozenStages, 0...6, "model.backbone.frozen_stages")
  }

  /// The YOLOv3 neck upsamples each level twice onto the next finer one.
  private func checkYOLOV3Neck(_ c: inout Checks, _ neck: YOLOV3NeckConfiguration) {
    let detector = model.detector
    let inputs = detector.backbone.outputShapes
    let strides = inputs.map(\.stride)
    c.require(
      !strides.isEmpty && zip(strides, strides.dropFirst()).allSatisfy { $1 == 2 * $0 }, "model.neck.kind",
      "yolov3 upsamples each level twice onto the next finer one, so the backbone's maps need strides doubling from level to level, got \(strides)")
    c.require(
      neck.channels.isEmpty || neck.channels.count == inputs.count, "model.neck.channels",
      "needs one channel count per backbone map (\(inputs.count)), finest first, or [] for half of each map's, got \(neck.channels.count)")
    c.require(neck.channels.allSatisfy { (1...4096).contains($0) }, "model.neck.channels", "needs channel counts from 1 to 4096")
    c.require(
      neck.norm != .groupNorm || detector.neckOutputs.allSatisfy { $0.channels % 32 == 0 }, "model.neck.norm",
      "group norm needs channels that are a multiple of 32 (it uses 32 groups), got \(detector.neckOutputs.map(\.channels))")
    let coarsest = strides.last ?? 32
    c.require(
      detector.transform.sizeDivisible % coarsest == 0, "model.transform.size_divisible",
      "neck kind yolov3 doubles its coarsest map (stride \(coarsest)) onto the finer ones: needs a multiple of \(coarsest), got \(detector.transform.sizeDivisible)")
  }

  private func checkYOLOV3Head(_ c: inout Checks, _ head: YOLOV3HeadConfiguration, levels: [FeatureMapShape]) {
    c.require(
      head.anchorSizes.count == levels.count, "model.head.anchor_sizes",
      "needs one list of [width, height] anchors per feature level the neck gives (\(levels.count)), finest first, got \(head.anchorSizes.count)")
    c.require(
      head.anchorSizes.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.count == 2 && $0.allSatisfy { $0 > 0 } } },
      "model.head.anchor_sizes", "needs [width, height] pairs of positive sizes at every level")
    c.require(
      Set(head.anchorSizes.map(\.count)).count <= 1, "model.head.anchor_sizes", "every level needs the same number of anchors")
    c.require(
      head.bridgeChannels.isEmpty || head.bridgeChannels.count == levels.count, "model.head.bridge_channels",
      "needs one channel count per level (\(levels.count)), finest first, or [] for twice each level's, got \(head.bridgeChannels.count)")
    c.require(head.bridgeChannels.allSatisfy { (1...8192).contains($0) }, "model.head.bridge_channels", "needs channel counts from 1 to 8192")
    c.require(
      head.norm != .groupNorm || head.bridgeChannels(input: levels.map(\.channels)).allSatisfy { $0 % 32 == 0 }, "model.head.norm",
      "group norm needs bridge channels that are a multiple of 32 (it uses 32 groups)")
    c.range(head.foregroundIoU, 0...1, "model.head.foreground_iou")
    c.range(head.backgroundIoU, 0...1, "model.head.background_iou")
    c.range(head.minForegroundIoU, 0...1, "model.head.min_foreground_iou")
    c.range(head.labelSmoothing, 0...1, "model.head.label_smoothing")
    for (key, weight) in [
      ("class_loss_weight", head.classLossWeight), ("objectness_loss_weight", head.objectnessLossWeight),
      ("center_loss_weight", head.centerLossWeight), ("size_loss_weight", head.sizeLossWeight),
    ] {
      c.require(weight >= 0 && weight.isFinite, "model.head.\(key)", "must be 0 or more")
    }
    c.range(head.objectnessThreshold, 0...1, "model.head.objectness_threshold")
    c.range(head.scoreThreshold, 0...1, "model.head.score_threshold")
    c.range(head.topCandidates, 1...100_000, "model.head.top_candidates")
    c.range(head.minBoxSize, 0...10_000, "model.head.min_box_size")
    c.range(head.nmsThreshold, 0.01...1, "model.head.nms_threshold")
    c.range(head.detectionsPerImage, 1...10_000, "model.head.detections_per_image")
  }

  private func checkEfficientNet(_ c: inout Checks, _ net: EfficientNetConfiguration) {
    c.require(
      [.batchNorm, .syncBatchNorm, .frozenBatchNorm].contains(net.norm), "model.backbone.norm",
      "efficientnet takes BN, SyncBN or FrozenBN (its 16-, 24- and 40-channel stages do not split into 32 groups; its activations are SiLU, not IABN's leaky ReLU), got \(net.norm.rawValue)")
    if let epsilon = net.normEpsilon { c.require(epsilon > 0 && epsilon < 1, "model.backbone.norm_epsilon", "must be above 0 and below 1, got \(epsilon)") }
    if let momentum = net.normMomentum { c.range(momentum, 0...1, "model.backbone.norm_momentum") }
    c.range(net.frozenStages, 0...8, "model.backbone.frozen_stages")
    c.require(
      net.stochasticDepth >= 0 && net.stochasticDepth < 1, "model.backbone.stochastic_depth",
      "must be at least 0 and below 1, got \(net.stochasticDepth)")
    if let width = net.widthMultiplier { c.range(width, 0.05...8, "model.backbone.width_multiplier") }
    if let depth = net.depthMultiplier { c.range(depth, 0.05...8, "model.backbone.depth_multiplier") }
    let stages = net.outFeatures.map(\.rawValue)
    c.require(
      !stages.isEmpty && stages == stages.sorted() && Set(stages).count == stages.count, "model.backbone.out_features",
      "needs stage outputs (c2 to c5) in increasing order, each once")
  }

  private func checkDenseHead(_ c: inout Checks, _ head: DenseHeadConfiguration, levels: [FeatureMapShape]) {
    let channels = levels.first?.channels ?? 0
    switch head {
    case .yolov3(let y):
      checkYOLOV3Head(&c, y, levels: levels)
    case .retinaNet(let r):
      groupNorm(&c, channels: channels, used: r.norm == .groupNorm, path: "model.head.norm")
      c.require(!r.normPerLevel || r.norm != nil, "model.head.norm_per_level", "needs a norm (model.head.norm), which is null")
      c.anchors(
        sizes: r.anchorSizes, aspectRatios: r.aspectRatios, strides: r.anchorStrides, levels: levels.count,
        prefix: "model.head.")
      c.thresholds(background: r.backgroundIoU, foreground: r.foregroundIoU, prefix: "model.head.")
      c.denseHead(
        alpha: r.focalLossAlpha, gamma: r.focalLossGamma, prior: r.priorProbability, score: r.scoreThreshold,
        topCandidates: r.topCandidates, nms: r.nmsThreshold, detections: r.detectionsPerImage)
    case .fcos(let f):
      groupNorm(&c, channels: channels, used: f.norm == .groupNorm, path: "model.head.norm")
      c.require(
        f.anchorSizes.count == levels.count && f.anchorSizes.allSatisfy { $0 > 0 }, "model.head.anchor_sizes",
        "needs one positive size per feature level the neck gives (\(levels.count)), got \(f.anchorSizes.count)")
      c.require(f.centerSamplingRadius > 0, "model.head.center_sampling_radius", "must be positive")
      c.require(
        f.regressionRangeLower > 0 && f.regressionRangeLower < f.regressionRangeUpper, "model.head.regression_range_lower",
        "must be positive and below regression_range_upper")
      c.denseHead(
        alpha: f.focalLossAlpha, gamma: f.focalLossGamma, prior: f.priorProbability, score: f.scoreThreshold,
        topCandidates: f.topCandidates, nms: f.nmsThreshold, detections: f.detectionsPerImage)
    }
  }

  private func checkTwoStage(_ c: inout Checks, rpn: RPNConfiguration, roiHeads: RoIHeadsPart, levels: Int) {
    c.anchors(sizes: rpn.anchorSizes, aspectRatios: rpn.aspectRatios, strides: rpn.anchorStrides, levels: levels, prefix: "model.rpn.")
    for (key, value) in [
      ("pre_nms_top_n_train", rpn.preNMSTopNTrain), ("pre_nms_top_n_test", rpn.preNMSTopNTest),
      ("post_nms_top_n_train", rpn.postNMSTopNTrain), ("post_nms_top_n_test", rpn.postNMSTopNTest),
    ] {
      c.range(value, 1...1_000_000, "model.rpn.\(key)")
    }
    c.range(rpn.nmsThreshold, 0.01...1, "model.rpn.nms_threshold")
    c.thresholds(background: rpn.backgroundIoU, foreground: rpn.foregroundIoU, prefix: "model.rpn.")
    c.range(rpn.batchSizePerImage, 1...100_000, "model.rpn.batch_size_per_image")
    c.range(rpn.positiveFraction, 0...1, "model.rpn.positive_fraction")
    c.range(rpn.scoreThreshold, 0...1, "model.rpn.score_threshold")
    c.range(rpn.minSize, 0...1000, "model.rpn.min_size")
    c.range(rpn.convDepth, 1...8, "model.rpn.conv_depth")

    switch roiHeads {
    case .standard(let heads):
      c.thresholds(background: heads.backgroundIoU, foreground: heads.foregroundIoU, prefix: "model.roi_heads.")
      c.require(
        heads.boxRegressionWeights.count == 4 && heads.boxRegressionWeights.allSatisfy { $0 > 0 },
        "model.roi_heads.box_regression_weights", "needs 4 positive values")
      checkSecondStage(
        &c, batchSize: heads.batchSizePerImage, positiveFraction: heads.positiveFraction, score: heads.scoreThreshold,
        nms: heads.nmsThreshold, detections: heads.detectionsPerImage, resolution: heads.poolerResolution,
        samplingRatio: heads.poolerSamplingRatio, minSize: heads.minSize, boxHead: heads.boxHead, maskHead: heads.maskHead)
    case .cascade(let heads):
      c.require(!heads.stages.isEmpty && heads.stages.count <= 8, "model.roi_heads.stages", "needs 1 to 8 stages")
      for (k, stage) in heads.stages.enumerated() {
        c.range(stage.iouThreshold, 0.01...1, "model.roi_heads.stages.\(k).iou_threshold")
        c.require(
          stage.boxRegressionWeights.count == 4 && stage.boxRegressionWeights.allSatisfy { $0 > 0 },
          "model.roi_heads.stages.\(k).box_regression_weights", "needs 4 positive values")
        c.require(stage.lossWeight >= 0 && stage.lossWeight.isFinite, "model.roi_heads.stages.\(k).loss_weight", "must be 0 or more")
      }
      checkSecondStage(
        &c, batchSize: heads.batchSizePerImage, positiveFraction: heads.positiveFraction, score: heads.scoreThreshold,
        nms: heads.nmsThreshold, detections: heads.detectionsPerImage, resolution: heads.poolerResolution,
        samplingRatio: heads.poolerSamplingRatio, minSize: heads.minSize, boxHead: heads.boxHead, maskHead: heads.maskHead)
    }
  }

  /// What every RoI heads kind shares: sampling, test settings, pooling, box and mask heads.
  private func checkSecondStage(
    _ c: inout Checks, batchSize: Int, positiveFraction: Double, score: Double, nms: Double, detections: Int,
    resolution: Int, samplingRatio: Int, minSize: Double, boxHead: BoxHeadKind, maskHead: MaskHeadConfiguration?
  ) {
    c.range(batchSize, 1...100_000, "model.roi_heads.batch_size_per_image")
    c.range(positiveFraction, 0...1, "model.roi_heads.positive_fraction")
    c.range(score, 0...1, "model.roi_heads.score_threshold")
    c.range(nms, 0.01...1, "model.roi_heads.nms_threshold")
    c.range(detections, 1...10_000, "model.roi_heads.detections_per_image")
    c.range(resolution, 1...64, "model.roi_heads.pooler_resolution")
    c.range(samplingRatio, 0...16, "model.roi_heads.pooler_sampling_ratio")
    c.range(minSize, 0...1000, "model.roi_heads.min_size")
    switch boxHead {
    case .twoMLP(let size): c.range(size, 1...65_536, "model.roi_heads.box_head.representation_size")
    case .convFC(let convolutions, let fullyConnected, let norm):
      c.require(convolutions.allSatisfy { (1...4096).contains($0) }, "model.roi_heads.box_head.convolutions", "needs channel counts from 1 to 4096")
      c.require(
        norm != .groupNorm || convolutions.allSatisfy { $0 % 32 == 0 }, "model.roi_heads.box_head.convolutions",
        "group norm needs channel counts that are multiples of 32 (it uses 32 groups)")
      c.require(
        !fullyConnected.isEmpty && fullyConnected.allSatisfy { (1...65_536).contains($0) }, "model.roi_heads.box_head.fully_connected",
        "needs at least one size from 1 to 65536")
    case .resNetStage:
      let backbone = model.detector.backbone.resNet
      c.require(
        backbone.map { !$0.outFeatures.contains(.c5) } ?? false, "model.roi_heads.box_head.kind",
        "resnet_stage runs the backbone ResNet's stage 5, so the backbone's out_features must stop before c5")
    }
    if let mask = maskHead {
      c.require(mask.convolutions.allSatisfy { (1...4096).contains($0) }, "model.roi_heads.mask_head.convolutions", "needs channel counts from 1 to 4096")
      c.require(
        mask.norm != .groupNorm || mask.convolutions.allSatisfy { $0 % 32 == 0 }, "model.roi_heads.mask_head.convolutions",
        "group norm needs channel counts that are multiples of 32 (it uses 32 groups)")
      c.range(mask.resolution, 1...64, "model.roi_heads.mask_head.resolution")
      c.range(mask.samplingRatio, 0...16, "model.roi_heads.mask_head.sampling_ratio")
      c.range(mask.predictorChannels, 1...4096, "model.roi_heads.mask_head.predictor_channels")
    }
  }

  /// Group norm splits channels into 32 groups.
  private func groupNorm(_ c: inout Checks, channels: Int, used: Bool, path: String) {
    c.require(!used || channels % 32 == 0, path, "group norm needs channels that are a multiple of 32 (it uses 32 groups), got \(channels)")
  }

  private func checkData(_ c: inout Checks) {
    // The synthetic scenes are drawn up front, a few dozen bytes each. (A file-based split's
    // annotations are checked when a command reads that split: eval needs no training files.)
    for (name, split) in [("train", data.train), ("test", data.test)] where data.kind == .shapes {
      c.range(split.imageCount, 1...1_000_000, "data.\(name).image_count")
    }
    c.range(data.workers, 0...64, "data.workers")
    c.require(data.classes.isEmpty || data.kind == .kitti, "data.classes", "is for kitti data only")
    if data.kind == .kitti, !data.classes.isEmpty {
      do {
        _ = try KITTIClassMap(data.classes)
      } catch {
        c.require(false, "data.classes", "\(error)")
      }
    }
  }

  private func checkSolver(_ c: inout Checks) {
    c.require(solver.baseLearningRate > 0 && solver.baseLearningRate.isFinite, "solver.base_lr", "must be positive")
    c.require(solver.momentum >= 0 && solver.momentum < 1, "solver.momentum", "must be at least 0 and below 1")
    c.require(solver.weightDecay >= 0, "solver.weight_decay", "must be 0 or more")
    c.require(solver.normWeightDecay >= 0, "solver.norm_weight_decay", "must be 0 or more")
    c.require(solver.biasWeightDecay >= 0, "solver.bias_weight_decay", "must be 0 or more")
    c.range(solver.maxIterations, 1...100_000_000, "solver.max_iter")
    c.range(solver.batchSize, 1...4096, "solver.batch_size")
    c.range(solver.warmupIterations, 0...100_000_000, "solver.warmup_iters")
    c.require(solver.warmupFactor > 0 && solver.warmupFactor <= 1, "solver.warmup_factor", "must be above 0 and at most 1")
    c.require(solver.steps.allSatisfy { $0 >= 1 } && solver.steps == solver.steps.sorted(), "solver.steps", "must be positive and increasing")
    c.require(solver.gamma > 0 && solver.gamma <= 1, "solver.gamma", "must be above 0 and at most 1")
    c.range(solver.cosineFinalFactor, 0...1, "solver.cosine_final_factor")
    if let norm = solver.clipGradientNorm { c.require(norm > 0, "solver.clip_grad_norm", "must be positive or null") }
    if let epochs = solver.maxEpochs { c.range(epochs, 1...1_000_000, "solver.max_epochs") }
    c.range(solver.maxNonfiniteSteps, 1...1_000_000, "solver.max_nonfinite_steps")
  }

  private func checkTestAndRuntime(_ c: inout Checks) {
    c.range(test.batchSize, 1...1024, "test.batch_size")
    if let threshold = test.scoreThreshold { c.range(threshold, 0...1, "test.score_threshold") }
    if let count = test.detectionsPerImage { c.range(count, 1...10_000, "test.detections_per_image") }
    if let size = test.minSize { c.range(size, 32...8192, "test.min_size") }
    if let size = test.maxSize { c.range(size, 32...8192, "test.max_size") }
    checkNMS(&c, test.nms, "test.nms")
    if let augment = test.augment {
      for (i, scale) in augment.scales.enumerated() { c.range(scale, 32...8192, "test.augment.scales.\(i)") }
      if let size = augment.maxSize { c.range(size, 32...8192, "test.augment.max_size") }
      checkNMS(&c, augment.merge, "test.augment.merge")
    }
    c.range(runtime.threads, 1...1024, "runtime.threads")
    c.require(
      runtime.precision != .int8 || model.detector.quantize != nil, "runtime.precision",
      "int8 needs model.quantize: the layers to run in INT8, with ranges from quantization-aware training or --calibrate")
    c.range(runtime.logPeriod, 1...100_000_000, "runtime.log_period")
    c.range(runtime.checkpointPeriod, 0...100_000_000, "runtime.checkpoint_period")
    c.range(runtime.evalPeriod, 0...100_000_000, "runtime.eval_period")
    c.range(runtime.checkpointsKept, 1...10_000, "runtime.checkpoints_kept")
    c.require(
      runtime.distributed.bucketMB.isFinite && runtime.distributed.bucketMB > 0 && runtime.distributed.bucketMB <= 4096,
      "runtime.distributed.bucket_mb", "must be above 0 and at most 4096, got \(runtime.distributed.bucketMB)")
    c.require(
      runtime.distributed.timeout.isFinite && runtime.distributed.timeout >= 1 && runtime.distributed.timeout <= 86_400,
      "runtime.distributed.timeout", "must be between 1 and 86400 seconds, got \(runtime.distributed.timeout)")
    if case .fixed(let scale) = runtime.lossScale {
      c.require(scale.isFinite && scale > 0 && scale <= 1e30, "runtime.loss_scale", "must be dynamic or a number above 0 (at most 1e30), got \(scale)")
    }
    if let distill {
      c.require(!distill.teacher.config.isEmpty, "distill.teacher.config", "needs the teacher's config file")
      c.require(!distill.teacher.weights.isEmpty, "distill.teacher.weights", "needs the teacher's weights file")
      c.require(
        distill.losses.features != nil || distill.losses.logits != nil, "distill.losses",
        "needs at least one of features and logits")
      if let features = distill.losses.features {
        c.require(features.weight.isFinite && features.weight >= 0, "distill.losses.features.weight", "must be a number of at least 0")
        c.range(features.objectMargin, 0...10, "distill.losses.features.object_margin")
      }
      if let logits = distill.losses.logits {
        c.require(logits.weight.isFinite && logits.weight >= 0, "distill.losses.logits.weight", "must be a number of at least 0")
        c.require(logits.temperature.isFinite && logits.temperature > 0 && logits.temperature <= 100, "distill.losses.logits.temperature", "must be above 0 and at most 100")
      }
    }
  }

  private func checkNMS(_ c: inout Checks, _ method: NMSMethod?, _ path: String) {
    switch method {
    case nil: break
    case .standard(let threshold)?: c.range(threshold, 0.01...1, "\(path).iou_threshold")
    case .soft(let decay, let minScore)?:
      switch decay {
      case .linear(let threshold): c.range(threshold, 0...1, "\(path).iou_threshold")
      case .gaussian(let sigma): c.require(sigma > 0 && sigma.isFinite, "\(path).sigma", "must be positive")
      }
      c.range(minScore, 0...1, "\(path).min_score")
    case .weighted(let threshold, let voting)?:
      c.range(threshold, 0.01...1, "\(path).iou_threshold")
      c.range(voting, 0...1, "\(path).voting_threshold")
    case .wbf(let threshold)?: c.range(threshold, 0.01...1, "\(path).iou_threshold")
    }
  }
}
