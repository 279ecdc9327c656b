import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

func smallRetinaNetConfiguration(boxLoss: BoxRegressionLoss = .l1, headNorm: NormKind? = nil) -> DetectorConfiguration {
  var head = RetinaNetHeadConfiguration()
  head.anchorSizes = [[16, 20, 25], [32, 40, 50], [48, 60, 76], [64, 80, 101], [96, 120, 152]]
  head.boxRegressionLoss = boxLoss
  head.norm = headNorm
  var config = DetectorConfiguration.torchvisionRetinaNet(classes: 3)
  config.head = .retinaNet(head)
  config.backbone = .resnet(ResNet.Configuration(depth: 18, norm: .frozenBatchNorm, frozenStages: 0, outFeatures: [.c3, .c4, .c5]))
  config.neck = .fpn(FPNConfiguration(channels: 64, extraLevels: .p6p7))
  config.transform = ImageTransform(minSize: [96], maxSize: 96)
  config.seed = 3
  return config
}

@Suite(.serialized) struct RetinaNetTrainingTests {
  @Test(arguments: [BoxRegressionLoss.l1, .giou])
  func lossesFallOnSyntheticScenes(boxLoss: BoxRegressionLoss) {
    Torch.threadCount = 2
    let model = DenseDetector(smallRetinaNetConfiguration(boxLoss: boxLoss, headNorm: boxLoss == .giou ? .groupNorm : nil))
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 1)
    let optimizer = SGD(
      // GIoU with group norm tolerates less: it diverges at 0.05 where L1 is still slow.
      groups: ParameterGroup.standard(for: model, learningRate: boxLoss == .giou ? 0.02 : 0.05, weightDecay: 1e-4),
      momentum: 0.9)
    model.train()
    var totals: [Double] = []
    for _ in 0..<10 {
      let losses = model.losses(images, targets: targets)
      #expect(Set(losses.keys) == ["classification", "bbox_regression"])
      let total = losses["classification"]! + losses["bbox_regression"]!
      optimizer.zeroGradients()
      total.backward()
      optimizer.step()
      totals.append(total.doubleValue())
    }
    let finite = totals.allSatisfy { $0.isFinite }
    #expect(finite)
    let first = totals.prefix(2).reduce(0, +) / 2
    let last = totals.suffix(2).reduce(0, +) / 2
    #expect(last < first * 0.92, "losses: \(totals)")
  }

  @Test func imagesWithoutObjectsHaveNoBoxLoss() {
    let model = DenseDetector(smallRetinaNetConfiguration())
    let (images, _) = rectangleScenes(count: 1, size: 96, seed: 4)
    let empty = Instances(imageSize: (96, 96), fields: ["boxes": Tensor.zeros([0, 4]), "labels": Tensor.zeros([0], dtype: .int64)])
    let losses = model.losses(images, targets: [empty])
    let boxLoss = losses["bbox_regression"]!.doubleValue()
    let classification = losses["classification"]!.doubleValue()
    #expect(boxLoss == 0)
    #expect(classification > 0 && classification.isFinite)
  }

  @Test func levelsWithoutCandidatesGiveNoDetections() {
    let model = DenseDetector(smallRetinaNetConfiguration())
    model.eval()
    model.inference.scoreThreshold = 1
    let (images, _) = rectangleScenes(count: 1, size: 96, seed: 2)
    let detections = model.detect(images)
    #expect(detections[0].count == 0)
    #expect(detections[0].boxes!.tensor.shape == [0, 4])
  }

  @Test func evalModeDetectsInOriginalPixels() {
    let model = DenseDetector(smallRetinaNetConfiguration())
    model.eval()
    model.inference.scoreThreshold = 0
    model.inference.detectionsPerImage = 20
    let (images, _) = rectangleScenes(count: 2, size: 96, seed: 2)
    let detections = model.detect([images[0], images[1][.all, 0..<80, 0..<64]])
    #expect(detections.count == 2)
    #expect(detections[1].imageSize.height == 80 && detections[1].imageSize.width == 64)
    for d in detections {
      #expect(d.count == 20)
      let boxes = d.boxes!.tensor
      #expect(!boxes.requiresGrad)
      let insideWidth = boxes[.all, 2].max().doubleValue() <= Double(d.imageSize.width) + 1e-3
      #expect(insideWidth)
      let labels = d["labels"]!.toArray(Int.self)
      #expect(labels.allSatisfy { (0..<3).contains($0) })
    }
  }

  @Test func bfloat16AutocastTrainsAndDetects() {
    let model = DenseDetector(smallRetinaNetConfiguration(boxLoss: .giou, headNorm: .groupNorm))
    let (images, targets) = rectangleScenes(count: 2, size: 96, seed: 5)
    model.train()
    let losses = withAutocast(.bfloat16) { model.losses(images, targets: targets) }
    let total = losses["classification"]! + losses["bbox_regression"]!
    #expect(total.dtype == .float32 && total.doubleValue().isFinite)
    total.backward()
    let gradients = model.parameters().compactMap(\.grad)
    #expect(!gradients.isEmpty)
    model.eval()
    let found = withAutocast(.bfloat16) { model.detect(images) }
    let boxes = found[0].boxes!.tensor
    #expect(found.count == 2 && boxes.shape.count == 2 && boxes.shape[1] == 4)
  }

  @Test func configurationRoundTripsThroughJSON() throws {
    let v2 = DetectorConfiguration.torchvisionRetinaNetv2()
    let data = try JSONEncoder().encode(DetectorConfiguration.torchvisionRetinaNet())
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let head = try #require(object["head"] as? [String: Any])
    // An absent head norm is written as null, so config files may name the key.
    #expect(head.keys.contains("norm") && head["kind"] as? String == "retinanet")
    let decoded = try JSONDecoder().decode(DetectorConfiguration.self, from: JSONEncoder().encode(v2))
    #expect(decoded == v2)
    guard case .retinaNet(let decodedHead)? = decoded.head, case .fpn(let fpn) = decoded.neck else {
      Issue.record("not a RetinaNet with an FPN")
      return
    }
    #expect(decodedHead.norm == .groupNorm && decodedHead.boxRegressionLoss == .giou && fpn.extraInput == .c5)
  }

  @Test func generalizedIoULossMatchesItsDefinition() {
    let a = Tensor([Float(0), 0, 2, 2, 0, 0, 1, 1], shape: [2, 4])
    let b = Tensor([Float(1), 1, 3, 3, 2, 2, 3, 3], shape: [2, 4])
    let loss = generalizedIoULoss(a, b).to(.float64).toArray(Double.self)
    // Overlapping: IoU 1/7, enclosing 9, union 7 → 1 - (1/7 - 2/9). Disjoint: IoU 0, enclosing 9,
    // union 2 → 1 - (0 - 7/9).
    let expected: [Double] = [1 - (1.0 / 7 - 2.0 / 9), 1 + 7.0 / 9]
    let matches = zip(loss, expected).allSatisfy { Swift.abs($0 - $1) < 1e-5 }
    #expect(matches, "\(loss)")
  }
}
