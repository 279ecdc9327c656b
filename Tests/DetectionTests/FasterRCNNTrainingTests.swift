import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// Images of a flat background with bright axis-aligned rectangles, and their boxes and labels
/// (label 1 for red rectangles, 2 for green).
func rectangleScenes(count: Int, size: Int, seed: UInt64) -> ([Tensor], [Instances]) {
  let g = Generator(seed: seed)
  var images: [Tensor] = []
  var targets: [Instances] = []
  for _ in 0..<count {
    let image = Tensor.full([3, size, size], value: 0.3)
    var boxes: [Float] = []
    var labels: [Int] = []
    for _ in 0..<2 {
      let corner = Tensor.randint(0..<(size / 2), shape: [2], generator: g).toArray(Int.self)
      let extent = Tensor.randint((size / 6)..<(size / 2), shape: [2], generator: g).toArray(Int.self)
      let (x1, y1) = (corner[0], corner[1])
      let (x2, y2) = (min(x1 + extent[0], size), min(y1 + extent[1], size))
      let label = Tensor.randint(1..<3, shape: [1], generator: g).intValue()
      image[label - 1, y1..<y2, x1..<x2] = Tensor(scalar: Float(0.9))
      boxes += [Float(x1), Float(y1), Float(x2), Float(y2)]
      labels.append(label)
    }
    images.append(image)
    targets.append(
      Instances(imageSize: (size, size), fields: ["boxes": Tensor(boxes, shape: [2, 4]), "labels": Tensor(labels)]))
  }
  return (images, targets)
}

func smallFasterRCNNConfiguration() -> DetectorConfiguration {
  var config = DetectorConfiguration()
  config.classes = 3
  config.backbone = .resnet(ResNet.Configuration(depth: 18, norm: .frozenBatchNorm, frozenStages: 0))
  config.neck = .fpn(FPNConfiguration(channels: 64))
  config.transform = ImageTransform(minSize: [96], maxSize: 96)
  config.rpn?.anchorSizes = [[16], [32], [48], [64], [96]]
  config.rpn?.preNMSTopNTrain = 300
  config.rpn?.postNMSTopNTrain = 200
  config.rpn?.preNMSTopNTest = 200
  config.rpn?.postNMSTopNTest = 100
  config.roiHeads?.standard?.batchSizePerImage = 64
  config.roiHeads?.standard?.boxHead = .twoMLP(representationSize: 128)
  config.seed = 3
  return config
}

@Suite(.serialized) struct FasterRCNNTrainingTests {
  /// When the RPN keeps no proposal (here: every proposal is below its minimum size), detection
  /// returns no boxes and training still gives finite losses, instead of failing to reshape an
  /// empty tensor.
  @Test func noProposalsGiveNoDetections() {
    var config = smallFasterRCNNConfiguration()
    config.rpn?.minSize = 500
    let model = GeneralizedRCNN(config)
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 1)
    model.eval()
    let found = model.detect(images)
    #expect(found.map { $0["boxes"]!.shape } == [[0, 4], [0, 4]])
    model.train()
    let losses = model.losses(images, targets: targets)
    #expect(losses.values.allSatisfy { $0.doubleValue().isFinite }, "\(losses.mapValues { $0.doubleValue() })")
  }

  @Test func lossesFallOnSyntheticScenes() {
    Torch.threadCount = 2
    let model = GeneralizedRCNN(smallFasterRCNNConfiguration())
    let (images, targets) = rectangleScenes(count: 4, size: 96, seed: 1)
    let optimizer = SGD(
      groups: ParameterGroup.standard(for: model, learningRate: 0.02, weightDecay: 1e-4), momentum: 0.9)
    model.train()
    var totals: [Double] = []
    for step in 0..<12 {
      let batch = step % 2 == 0 ? (Array(images[0..<2]), Array(targets[0..<2])) : (Array(images[2..<4]), Array(targets[2..<4]))
      let losses = model.losses(batch.0, targets: batch.1)
      #expect(Set(losses.keys) == ["loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"])
      let total = losses.values.reduce(Tensor(scalar: Float(0))) { $0 + $1 }
      optimizer.zeroGradients()
      total.backward()
      optimizer.step()
      totals.append(total.doubleValue())
    }
    #expect(totals.allSatisfy { $0.isFinite })
    let first = totals.prefix(2).reduce(0, +) / 2
    let last = totals.suffix(2).reduce(0, +) / 2
    #expect(last < first * 0.8, "losses: \(totals)")
  }

  @Test func evalModeDetectsWithoutGradients() {
    let model = GeneralizedRCNN(smallFasterRCNNConfiguration())
    model.eval()
    let (images, _) = rectangleScenes(count: 2, size: 96, seed: 2)
    let detections = model.detect([images[0], images[1][.all, 0..<80, 0..<64]])
    #expect(detections.count == 2)
    #expect(detections[1].imageSize.height == 80 && detections[1].imageSize.width == 64)
    for d in detections {
      let boxes = d.boxes!.tensor
      #expect(!boxes.requiresGrad)
      if boxes.shape[0] > 0 {
        #expect(boxes[.all, 2].max().doubleValue() <= Double(d.imageSize.width) + 1e-3)
      }
    }
  }

  @Test(arguments: [18, 34, 50, 101])
  func backboneDepthsHaveTorchvisionStageChannels(depth: Int) {
    let body = ResNet(ResNet.Configuration(depth: depth))
    #expect(body.stageChannels == (depth < 50 ? [64, 128, 256, 512] : [256, 512, 1024, 2048]))
    let outputs = withNoGrad { body(Tensor.zeros([1, 3, 64, 64])) }
    #expect(outputs.map { $0.shape[2] } == [16, 8, 4, 2])
  }

  @Test func bfloat16AutocastTrainsAndDetects() {
    let model = GeneralizedRCNN(smallFasterRCNNConfiguration())
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 5)
    model.train()
    let losses = withAutocast(.bfloat16) { model.losses(images, targets: targets) }
    let total = losses.values.reduce(Tensor(scalar: Float(0))) { $0 + $1 }
    #expect(total.dtype == .float32 && total.doubleValue().isFinite)
    total.backward()
    let gradients = model.parameters().compactMap(\.grad)
    let float32 = gradients.allSatisfy { $0.dtype == .float32 }
    #expect(!gradients.isEmpty && float32)
    model.eval()
    let found = withAutocast(.bfloat16) { model.detect(images) }
    let boxes = found[0].boxes!.tensor
    #expect(found.count == 2 && boxes.shape.count == 2 && boxes.shape[1] == 4)
  }

  /// Under autocast the box predictor still computes in float32 (its scores rank detections),
  /// on the bfloat16 features the box head gives it, and its gradients reach the features.
  @Test func boxPredictorRunsInFloat32UnderAutocast() {
    let predictor = FastRCNNPredictor(inputFeatures: 16, classes: 3, generator: Generator(seed: 1))
    let features = Tensor.randn([5, 16], generator: Generator(seed: 2)).to(.bfloat16).requiringGrad()
    let (scores, offsets) = withAutocast(.bfloat16) { predictor(features) }
    #expect(scores.dtype == .float32 && offsets.dtype == .float32)
    let reference = predictor(features.detached().to(.float32))
    #expect(scores.isEqual(to: reference.scores) && offsets.isEqual(to: reference.offsets))
    (scores.sum() + offsets.sum()).backward()
    #expect(features.grad?.dtype == .bfloat16)
  }

  @Test func narrowResNetsScaleEveryStage() {
    let basic = ResNet(ResNet.Configuration(depth: 18, baseChannels: 16))
    #expect(basic.stageChannels == [16, 32, 64, 128])
    #expect(basic.stateDict()["conv1.weight"]!.shape == [16, 3, 7, 7])
    let bottleneck = ResNet(ResNet.Configuration(depth: 50, baseChannels: 32))
    #expect(bottleneck.stageChannels == [128, 256, 512, 1024])
    let outputs = withNoGrad { bottleneck(Tensor.zeros([1, 3, 64, 64])) }
    #expect(outputs.map { $0.shape[1] } == [128, 256, 512, 1024])
  }

  @Test func resnext101Grouping() {
    let body = ResNet(ResNet.Configuration(depth: 101, groups: 32, widthPerGroup: 8))
    let state = body.stateDict()
    // torchvision resnext101_32x8d: layer1 conv2 is 256 channels in 32 groups of 8.
    #expect(state["layer1.0.conv2.weight"]!.shape == [256, 8, 3, 3])
    #expect(state["layer4.2.conv3.weight"]!.shape == [2048, 2048, 1, 1])
  }
}

@Suite struct PyramidTests {
  @Test func p6p7LevelsFollowRetinaNetsNaming() {
    let fpn = FeaturePyramidNetwork(inputChannels: [8, 16, 32], outputChannels: 8, extra: .p6p7, extraInput: .c5)
    let keys = fpn.stateDict().keys.sorted()
    #expect(keys.contains("extra_blocks.p6.weight") && keys.contains("extra_blocks.p7.bias"))
    let features = [Tensor.zeros([1, 8, 32, 32]), Tensor.zeros([1, 16, 16, 16]), Tensor.zeros([1, 32, 8, 8])]
    let outputs = withNoGrad { fpn(features) }
    #expect(outputs.map { $0.shape[2] } == [32, 16, 8, 4, 2])
    #expect(outputs.allSatisfy { $0.shape[1] == 8 })
  }

  @Test func p7TakesTheReluOfP6OnlyWhenAsked() {
    let features = [8, 16, 32].enumerated().map { i, c in Tensor.randn([1, c, 32 >> i, 32 >> i], generator: Generator(seed: 5)) }
    func outputs(relu: Bool) -> [Tensor] {
      let fpn = FeaturePyramidNetwork(
        inputChannels: [8, 16, 32], outputChannels: 8, extra: .p6p7, extraInput: .c5, reluBeforeP7: relu,
        generator: Generator(seed: 1))
      return withNoGrad { fpn(features) }
    }
    let (torchvision, mmdetection) = (outputs(relu: true), outputs(relu: false))
    #expect((torchvision[3] - mmdetection[3]).abs().max().doubleValue() == 0)
    #expect((torchvision[4] - mmdetection[4]).abs().max().doubleValue() > 1e-4)
  }

  @Test func maxPoolLevelHalvesTheCoarsestOutput() {
    let fpn = FeaturePyramidNetwork(inputChannels: [4, 8], outputChannels: 4, extra: .maxPool)
    let outputs = withNoGrad { fpn([Tensor.ones([1, 4, 8, 8]), Tensor.ones([1, 8, 4, 4])]) }
    #expect(outputs.map { $0.shape[2] } == [8, 4, 2])
  }
}
