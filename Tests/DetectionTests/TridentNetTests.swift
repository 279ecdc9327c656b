import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// TridentNet: the shared-weight dilated convolution, the branching backbone (a plain ResNet's
/// names, branch 0 equal to the plain network, TridentNet-Fast equal to the middle branch),
/// caffe-style striding, scale-aware targets, and the merge of the branches' detections.
@Suite struct TridentNetTests {
  let branches = TridentBranches(dilations: [1, 2, 3], testBranch: 1)

  func tridentResNet(depth: Int = 50, testBranch: Int? = 1) -> ResNet {
    let c = ResNet.Configuration(depth: depth, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: [.c4])
    return ResNet(c, trident: TridentBranches(dilations: [1, 2, 3], testBranch: testBranch), generator: Generator(seed: 1))
  }

  @Test func sharedConvolutionDilatesEachBranch() {
    let conv = TridentConv(4, 6, stride: 2, groups: 1, branches: branches, generator: Generator(seed: 2))
    let x = Tensor.rand([6, 4, 9, 9], generator: Generator(seed: 3))
    let y = conv(x)
    #expect(y.shape == [6, 6, 5, 5])
    for (b, d) in [1, 2, 3].enumerated() {
      let expected = Functional.conv2d(
        x[(2 * b)..<(2 * b + 2)], weight: conv.weight, stride: (2, 2), padding: (d, d), dilation: (d, d))
      #expect((y[(2 * b)..<(2 * b + 2)] - expected).abs().max().doubleValue() < 1e-5)
    }
    conv.eval()
    let fast = conv(x[0..<2])
    let middle = Functional.conv2d(x[0..<2], weight: conv.weight, stride: (2, 2), padding: (2, 2), dilation: (2, 2))
    #expect((fast - middle).abs().max().doubleValue() < 1e-5)
    #expect(conv.stateDict().keys.sorted() == ["weight"])
  }

  @Test func branchesShareAPlainResNetsWeightsAndNames() throws {
    let trident = tridentResNet()
    let plain = ResNet(
      ResNet.Configuration(depth: 50, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: [.c4]),
      generator: Generator(seed: 1))
    #expect(trident.stateDict().mapValues(\.shape) == plain.stateDict().mapValues(\.shape))
    try plain.load(stateDict: trident.stateDict())
    let x = Tensor.rand([2, 3, 64, 64], generator: Generator(seed: 4))
    let all = tridentResNet(testBranch: nil)
    try all.load(stateDict: trident.stateDict())
    for net in [plain, trident, all] { net.eval() }
    #expect(all.branches == 3 && trident.branches == 1 && plain.branches == 1)
    let branched = all(x)[2]
    #expect(branched.shape == [6, 128, 4, 4])
    // Branch 0 (dilation 1) is the plain network; TridentNet-Fast is the middle branch.
    #expect((branched[0..<2] - plain(x)[2]).abs().max().doubleValue() < 1e-4)
    #expect((branched[2..<4] - trident(x)[2]).abs().max().doubleValue() < 1e-4)
    #expect((branched[4..<6] - branched[2..<4]).abs().max().doubleValue() > 1e-3)
    // Training runs every branch whatever the test branch.
    trident.train()
    #expect(trident.branches == 3 && trident(x)[2].shape[0] == 6)
  }

  @Test func caffeStyleStridesOnTheFirstOneByOne() {
    var c = ResNet.Configuration(depth: 50, norm: .batchNorm, frozenStages: 0, baseChannels: 8, outFeatures: [.c3])
    c.style = .caffe
    let caffe = ResNet(c, generator: Generator(seed: 1))
    let block = try! #require(caffe.layer2?.layers.first as? Bottleneck)
    #expect(block.conv1.stride == (2, 2) && (block.conv2 as! Conv2d).stride == (1, 1))
    c.style = .pytorch
    let pytorch = ResNet(c, generator: Generator(seed: 1))
    let other = try! #require(pytorch.layer2?.layers.first as? Bottleneck)
    #expect(other.conv1.stride == (1, 1) && (other.conv2 as! Conv2d).stride == (2, 2))
    caffe.eval()
    #expect(caffe(Tensor.rand([1, 3, 64, 64], generator: Generator(seed: 2)))[1].shape == [1, 64, 8, 8])
  }

  func target(_ sides: [Float]) -> Instances {
    let boxes: [Float] = sides.flatMap { [0, 0, $0, $0] }
    return Instances(
      imageSize: (300, 300),
      fields: ["boxes": Tensor(boxes, shape: [sides.count, 4]), "labels": Tensor((1...sides.count).map { $0 })])
  }

  @Test func scaleAwareTargetsKeepEachBranchsObjectsAndIgnoreTheRest() {
    var configuration = TridentConfiguration()
    configuration.validRanges = [[0, 60], [40, 100], [80, -1]]
    let branching = TridentBranching(branches: 3, configuration: configuration)
    let targets = branching.targets([target([20, 70, 200]), target([50])])
    #expect(targets.count == 6)
    // Branch-major: branch 0's two images, then branch 1's, then branch 2's.
    #expect(targets.map { $0["labels"]!.toArray(Int.self) } == [[1], [1], [2], [1], [3], []])
    #expect(targets[0].ignoredBoxes?.shape == [2, 4] && targets[5].ignoredBoxes?.shape == [1, 4])
    #expect(targets[2].ignoredBoxes!.toArray(Float.self) == [0, 0, 20, 20, 0, 0, 200, 200])
    // Proposals outside their branch's range are dropped.
    let proposal = Proposals(
      boxes: Tensor([Float(0), 0, 10, 10, 0, 0, 90, 90], shape: [2, 4]), scores: Tensor([Float(0.9), 0.8]))
    let kept = branching.proposals(Array(repeating: proposal, count: 6))
    #expect(kept.map { $0.boxes.shape[0] } == [1, 1, 1, 1, 1, 1])
    #expect(kept[0].boxes.toArray(Float.self) == [0, 0, 10, 10] && kept[4].boxes.toArray(Float.self) == [0, 0, 90, 90])
    // Without ranges every branch trains on everything.
    configuration.validRanges = []
    let plain = TridentBranching(branches: 3, configuration: configuration)
    #expect(plain.targets([target([20, 70, 200])]).map(\.count) == [3, 3, 3])
    #expect(plain.proposals([proposal, proposal, proposal]).map { $0.boxes.shape[0] } == [2, 2, 2])
  }

  @Test func ignoredRegionsTakeBackgroundCandidatesOutOfTraining() {
    let candidates = Tensor([Float(0), 0, 10, 10, 50, 50, 60, 60, 0, 0, 9, 10], shape: [3, 4])
    let labels = Tensor([0, 0, 2])
    let ignored = Tensor([Float(0), 0, 10, 10], shape: [1, 4])
    // The first overlaps the ignored region fully and becomes ignored; the second does not
    // overlap it; the third is foreground and stays so.
    #expect(ignoringOverlaps(labels: labels, candidates: candidates, ignored: ignored, threshold: 0.5).toArray(Int.self) == [-1, 0, 2])
    #expect(ignoringOverlaps(labels: labels, candidates: candidates, ignored: Tensor.zeros([0, 4]), threshold: 0.5).toArray(Int.self) == [0, 0, 2])
  }

  @Test func branchesDetectionsMergeByClassWiseNMS() {
    let branching = TridentBranching(branches: 2, configuration: nil)
    func detections(_ boxes: [Float], scores: [Float], labels: [Int]) -> Instances {
      Instances(
        imageSize: (100, 100),
        fields: ["boxes": Tensor(boxes, shape: [scores.count, 4]), "scores": Tensor(scores), "labels": Tensor(labels)])
    }
    // Image 0 in branch 0 and branch 1 (the same object, found twice), image 1 in both.
    let merged = branching.merged(
      [
        detections([0, 0, 10, 10, 20, 20, 40, 40], scores: [0.9, 0.5], labels: [1, 1]),
        detections([], scores: [], labels: []),
        detections([0, 0, 10, 11, 0, 0, 10, 10], scores: [0.95, 0.6], labels: [1, 2]),
        detections([5, 5, 30, 30], scores: [0.7], labels: [3]),
      ], nms: .standard(iouThreshold: 0.5), detectionsPerImage: 2)
    #expect(merged.count == 2)
    // Class 1's 0.9 box overlaps branch 1's 0.95 box by 0.91 and goes; the best two remain.
    #expect(merged[0]["scores"]!.toArray(Float.self) == [0.95, 0.6])
    #expect(merged[0]["labels"]!.toArray(Int.self) == [1, 2])
    #expect(merged[1]["boxes"]!.toArray(Float.self) == [5, 5, 30, 30])
  }

  func tridentDetector(testBranch: Int?) -> GeneralizedRCNN {
    var config = DetectorConfiguration()
    config.classes = 3
    var trident = TridentConfiguration()
    trident.resNet = ResNet.Configuration(depth: 18, norm: .batchNorm, frozenStages: 0, baseChannels: 16, outFeatures: [.c4])
    trident.testBranch = testBranch
    trident.validRanges = [[0, 40], [24, 64], [48, -1]]
    config.backbone = .trident(trident)
    config.neck = NeckConfiguration.none
    config.transform = ImageTransform(minSize: [96], maxSize: 96)
    config.rpn?.anchorSizes = [[16, 32, 64]]
    config.rpn?.aspectRatios = [[0.5, 1, 2]]
    config.rpn?.preNMSTopNTrain = 200
    config.rpn?.postNMSTopNTrain = 100
    config.rpn?.preNMSTopNTest = 200
    config.rpn?.postNMSTopNTest = 50
    config.roiHeads?.standard?.batchSizePerImage = 32
    config.roiHeads?.standard?.boxHead = .resNetStage
    config.roiHeads?.standard?.poolerResolution = 14
    config.roiHeads?.standard?.poolerSamplingRatio = 0
    config.seed = 5
    return GeneralizedRCNN(config)
  }

  @Test func tridentDetectorTrainsAndDetectsWithEveryBranchOrOne() throws {
    let model = tridentDetector(testBranch: nil)
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 1)
    model.train()
    let losses = model.losses(images, targets: targets)
    #expect(Set(losses.keys) == ["loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"])
    #expect(losses.values.allSatisfy { $0.doubleValue().isFinite })
    losses.values.reduce(Tensor(scalar: Float(0)), +).backward()
    let stage4 = model.namedParameters().first { $0.0 == "backbone.body.layer3.0.conv2.weight" }?.1
    #expect((stage4?.grad?.abs().max().doubleValue() ?? 0) > 0)

    model.eval()
    model.inference.scoreThreshold = 0
    model.inference.detectionsPerImage = 30
    let all = model.detect(images)
    #expect(all.count == 2 && all.allSatisfy { $0.count > 0 && $0.count <= 30 })
    let fast = tridentDetector(testBranch: 1)
    try fast.load(stateDict: model.stateDict())
    fast.eval()
    fast.inference.scoreThreshold = 0
    fast.inference.detectionsPerImage = 30
    let middle = fast.detect(images)
    #expect(middle.count == 2 && middle.allSatisfy { $0.count > 0 })
    // The merged detections hold the middle branch's best box (or a better one from another branch).
    let best = middle[0]["scores"]!.max().doubleValue()
    #expect(all[0]["scores"]!.max().doubleValue() >= best - 1e-6)
  }

  @Test func bgrChannelOrderFlipsBeforeNormalising() {
    let image = Tensor([Float(0.1), 0.5, 0.9], shape: [3, 1, 1]).expanded(to: [3, 32, 32]).contiguous()
    let transform = ImageTransform(
      minSize: [32], maxSize: 32, mean: [0.3, 0.2, 0.1], std: [0.5, 0.5, 0.5], sizeDivisible: 1, channelOrder: .bgr)
    let (batch, _) = transform([image])
    let pixel = batch.tensor[0, .all, 0, 0].toArray(Float.self)
    let expected: [Float] = [(0.9 - 0.3) / 0.5, (0.5 - 0.2) / 0.5, (0.1 - 0.1) / 0.5]
    #expect(zip(pixel, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(pixel)")
  }
}
