import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// A detector that finds the bright region of the image it is given (channel 0 above 0.5): one
/// box exactly around it, its mask, and a score that tells the passes apart (the test size over
/// 1,000). It records the test sizes of its passes.
final class BrightRegionDetector: Module, Detector {
  var inference = InferenceSettings(scoreThreshold: 0.05, detectionsPerImage: 100, minSize: 50, maxSize: 100)
  let generator = Generator(seed: 0)
  var hasMasks: Bool { true }
  var passes: [[Int]] = []

  func detect(_ images: [Tensor]) -> [Instances] {
    if let augmentation = inference.augment { return detect(images, augmentation: augmentation) }
    passes.append([inference.minSize, inference.maxSize])
    return images.map { image in
      let bright = image[0] .> 0.5
      let columns = bright.any(axes: [0]).nonzeroIndices().reshaped([-1]).toArray(Int.self)
      let rows = bright.any(axes: [1]).nonzeroIndices().reshaped([-1]).toArray(Int.self)
      let box = [columns.first!, rows.first!, columns.last! + 1, rows.last! + 1].map(Float.init)
      return Instances(
        imageSize: (image.shape[1], image.shape[2]),
        fields: [
          "boxes": Tensor(box, shape: [1, 4]), "scores": Tensor([Float(inference.minSize) / 1000]),
          "labels": Tensor([Int64(1)]), "masks": bright.to(.float32).reshaped([1, 1, image.shape[1], image.shape[2]]),
        ])
    }
  }

  func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor] { [:] }
}

@Suite struct TestTimeAugmentationTests {
  /// A 40×80 image whose bright region (columns 10..<30, rows 5..<20) is not symmetric.
  let image: Tensor = {
    let image = Tensor.zeros([3, 40, 80])
    image[0, 5..<20, 10..<30] = Tensor(scalar: Float(1))
    return image
  }()

  @Test func flippingTwiceGivesTheDetectionsBack() {
    let found = Instances(
      imageSize: (40, 80),
      fields: ["boxes": Tensor([Float(10), 5, 30, 20], shape: [1, 4]), "masks": image[0].reshaped([1, 1, 40, 80])])
    let once = found.flippedHorizontally()
    #expect(once["boxes"]!.toArray(Float.self) == [50, 5, 70, 20])
    #expect(once["masks"]![0, 0, 10, 55].floatValue() == 1 && once["masks"]![0, 0, 10, 15].floatValue() == 0)
    let twice = once.flippedHorizontally()
    #expect(twice["boxes"]!.toArray(Float.self) == [10, 5, 30, 20])
    #expect(twice["masks"]!.isEqual(to: found["masks"]!))
  }

  @Test func passesRunAtEveryScaleAndFlipAndMapBackExactly() {
    let model = BrightRegionDetector()
    let augmentation = TestAugmentation(scales: [40, 60], flip: true)
    model.inference.augment = augmentation
    let before = model.inference
    let found = model.detect([image])[0]
    // Longer-side limits scale with the shorter side; the settings come back afterwards.
    #expect(model.passes == [[40, 80], [40, 80], [60, 120], [60, 120]])
    #expect(model.inference == before)
    // Greedy NMS leaves one box, exactly the region, with the best pass's score and its mask.
    #expect(found.count == 1)
    #expect(found["boxes"]!.toArray(Float.self) == [10, 5, 30, 20])
    #expect(found["scores"]!.toArray(Float.self) == [0.06])
    #expect(found["masks"]!.isEqual(to: image[0].reshaped([1, 1, 40, 80])))
    #expect(augmentation.passes == 4)
  }

  @Test func boxFusionMergesThePassesAsSources() {
    let model = BrightRegionDetector()
    model.inference.augment = TestAugmentation(flip: true, maxSize: 90, merge: .wbf(iouThreshold: 0.55))
    let found = model.detect([image])[0]
    // No scales: the test size, plain and flipped, with the stated limit.
    #expect(model.passes == [[50, 90], [50, 90]])
    #expect(found.count == 1 && found["boxes"]!.toArray(Float.self) == [10, 5, 30, 20])
    // The mean of the two passes' scores, each pass one source.
    #expect(Swift.abs(found["scores"]!.doubleValue() - 0.05) < 1e-7)
    #expect(found["masks"]!.isEqual(to: image[0].reshaped([1, 1, 40, 80])))
  }

  /// One pass at the test size and a merge by the heads' own NMS is plain detection, for every
  /// detector kind: the merge re-applies an NMS its input already passed.
  @Test(arguments: ["faster", "mask", "retinanet", "fcos"])
  func onePassEqualsPlainDetection(kind: String) {
    var configuration: DetectorConfiguration =
      switch kind {
      case "faster", "mask": smallFasterRCNNConfiguration()
      case "retinanet": smallRetinaNetConfiguration()
      default: smallFCOSConfiguration()
      }
    if kind == "mask" { configuration.roiHeads?.standard?.maskHead = MaskHeadConfiguration() }
    let model = configuration.makeDetector()
    model.eval()
    model.inference.scoreThreshold = 0.01
    let (images, _) = rectangleScenes(count: 2, size: 96, seed: 4)
    let plain = model.detect(images)
    let threshold = kind == "fcos" ? 0.6 : 0.5
    model.inference.augment = TestAugmentation(
      scales: [model.inference.minSize], merge: .standard(iouThreshold: threshold))
    let augmented = model.detect(images)
    for (a, b) in zip(plain, augmented) {
      #expect(a.count > 0 && a.count == b.count)
      #expect(Set(a.fields.keys) == Set(b.fields.keys))
      for (name, value) in a.fields { #expect(value.isEqual(to: b[name]!), "\(kind): \(name)") }
    }
  }

  /// Several scales and flips of a real detector: merged detections inside the image, best
  /// first, no more than the limit.
  @Test func flippedPassesOfARealDetectorStayInTheImage() {
    let model = smallFasterRCNNConfiguration().makeDetector()
    model.eval()
    model.inference.scoreThreshold = 0.01
    let (images, _) = rectangleScenes(count: 1, size: 96, seed: 4)
    model.inference.augment = TestAugmentation(scales: [80, 96], flip: true)
    let found = model.detect(images)[0]
    let boxes = found["boxes"]!
    #expect(found.count > 0 && found.count <= model.inference.detectionsPerImage)
    #expect(boxes.min().doubleValue() >= 0 && boxes.max().doubleValue() <= 96)
    let scores = found["scores"]!.toArray(Float.self)
    #expect(scores == scores.sorted(by: >))
  }
}
