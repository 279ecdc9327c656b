import Foundation
import Testing

@testable import Data

/// Geometric transforms must move pixels, boxes and masks together: after any of them, each
/// box is still the tight box of its mask and the mask still covers the object's pixels.
@Suite struct TransformTests {
  let shapes = ShapesDataset(imageCount: 6, seed: 3)

  func sample(_ index: Int) -> Sample {
    let (image, record, masks) = shapes.rendered(at: index)
    return Sample(image: image, boxes: record.instances.map(\.box), labels: record.instances.map(\.label), masks: masks, record: record)
  }

  /// The tight box of a mask, in pixel edges, or nil when empty.
  func tightBox(_ mask: [UInt8], width: Int, height: Int) -> Box? {
    var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
    for y in 0..<height { for x in 0..<width where mask[y * width + x] != 0 { minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y) } }
    return maxX < 0 ? nil : Box(x1: Float(minX), y1: Float(minY), x2: Float(maxX + 1), y2: Float(maxY + 1))
  }

  func expectConsistent(_ s: Sample, tolerance: Float, _ comment: Comment? = nil) {
    #expect(s.boxes.count == s.labels.count && s.masks?.count == s.boxes.count, comment)
    for (box, mask) in zip(s.boxes, s.masks ?? []) {
      #expect(mask.count == s.image.width * s.image.height)
      guard let tight = tightBox(mask, width: s.image.width, height: s.image.height) else {
        Issue.record("an instance kept an empty mask")
        continue
      }
      let gap = max(abs(tight.x1 - box.x1), abs(tight.y1 - box.y1), abs(tight.x2 - box.x2), abs(tight.y2 - box.y2))
      #expect(gap <= tolerance, "box \(box) vs mask box \(tight)")
      #expect(box.x1 >= 0 && box.y1 >= 0 && box.x2 <= Float(s.image.width) && box.y2 <= Float(s.image.height))
    }
  }

  @Test func flipMirrorsPixelsBoxesAndMasksExactly() {
    var s = sample(0)
    let original = s
    s.flipHorizontally()
    expectConsistent(s, tolerance: 0)
    let w = s.image.width
    #expect(s.image[x: 0, y: 5, channel: 1] == original.image[x: w - 1, y: 5, channel: 1])
    s.flipHorizontally()
    #expect(s.image == original.image && s.boxes == original.boxes && s.masks == original.masks && !s.isFlipped)
  }

  @Test func cropClipsBoxesAndDropsInstancesLeftOutside() {
    for index in 0..<shapes.count {
      var s = sample(index)
      s.crop(x: 40, y: 30, width: 150, height: 120)
      #expect(s.image.width == 150 && s.image.height == 120)
      // Clipped boxes are tight around the clipped masks.
      expectConsistent(s, tolerance: 0, "image \(index)")
    }
    var s = sample(0)
    s.crop(x: 0, y: 0, width: 1, height: 1)
    #expect(s.boxes.count <= 1)
  }

  @Test func resizeScalesBoxesAndMasksTogether() {
    for (w, h) in [(500, 420), (160, 130), (333, 777)] {
      var s = sample(1)
      s.resize(width: w, height: h)
      #expect(s.image.width == w && s.image.height == h)
      // Nearest-sampled masks move by at most a pixel of the larger scale.
      let scale = max(Float(w) / Float(s.record.width), Float(h) / Float(s.record.height))
      expectConsistent(s, tolerance: max(1, scale) + 0.01, "\(w)x\(h)")
    }
  }

  @Test func resizeShortestEdgeFollowsTorchvisionArithmetic() {
    // The scale is a float32 (800 / 480 = 1.66666663), and torchvision floors 480 x 1.66666663.
    #expect(ResizeShortestEdge.outputSize(width: 640, height: 480, shortSide: 800, maxSize: 1333) == (1066, 799))
    #expect(ResizeShortestEdge.outputSize(width: 2000, height: 500, shortSide: 800, maxSize: 1333) == (1332, 333))
    var random = SeededRandom(seed: 1)
    var s = sample(2)
    ResizeShortestEdge(sizes: [200, 300], maxSize: 1000).apply(to: &s, random: &random)
    #expect([199, 200, 299, 300].contains(min(s.image.width, s.image.height)))
    let sizes = (0..<40).map { i -> Int in
      var r = SeededRandom(seed: 9, i)
      var t = sample(0)
      ResizeShortestEdge(sizes: [100, 140], maxSize: 1000, sampling: .range).apply(to: &t, random: &r)
      return min(t.image.width, t.image.height)
    }
    #expect(sizes.allSatisfy { (99...140).contains($0) } && Set(sizes).count > 5)
  }

  @Test func photometricJitterKeepsGeometryAndIsIdentityAtZero() {
    var random = SeededRandom(seed: 5)
    var s = sample(3)
    let original = s
    PhotometricJitter(brightness: 0, contrast: 0, saturation: 0, hue: 0).apply(to: &s, random: &random)
    #expect(s.image == original.image)
    PhotometricJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1).apply(to: &s, random: &random)
    #expect(s.image != original.image)
    #expect(s.boxes == original.boxes && s.masks == original.masks)
    // Saturation 0 gives gray pixels.
    let gray = original.image.colorAdjusted(brightness: 1, contrast: 1, saturation: 0, hueTurns: 0)
    #expect((0..<100).allSatisfy { abs(Int(gray.pixels[$0 * 3]) - Int(gray.pixels[$0 * 3 + 2])) <= 1 })
  }

  @Test func aFullPipelineKeepsEveryInstanceConsistent() throws {
    let pipeline = TransformPipeline([
      RandomCrop(relativeSize: 0.5...0.9, probability: 0.7), ResizeShortestEdge(sizes: [180, 220, 260], maxSize: 400),
      RandomHorizontalFlip(), PhotometricJitter(),
    ])
    for index in 0..<shapes.count {
      var s = sample(index)
      var random = SeededRandom(seed: 11, index)
      pipeline.apply(to: &s, random: &random)
      expectConsistent(s, tolerance: 3, "image \(index)")
      #expect(s.boxes.allSatisfy { $0.isNonDegenerate() })
    }
  }

  @Test func specsDecodeFromConfigAndRejectUnknownKeys() throws {
    let json = """
      [{"resize_shortest_edge": {"sizes": [640, 800], "max_size": 1333}},
       {"random_horizontal_flip": {"probability": 0.25}},
       {"random_crop": {"relative_size": [0.5, 0.8]}},
       {"photometric_jitter": {"hue": 0.05}}]
      """
    let specs = try JSONDecoder().decode([TransformSpec].self, from: data(json))
    #expect(specs == [
      .resizeShortestEdge(ResizeShortestEdge(sizes: [640, 800], maxSize: 1333)),
      .randomHorizontalFlip(RandomHorizontalFlip(probability: 0.25)),
      .randomCrop(RandomCrop(relativeSize: 0.5...0.8)),
      .photometricJitter(PhotometricJitter(hue: 0.05)),
    ])
    let again = try JSONDecoder().decode([TransformSpec].self, from: try JSONEncoder().encode(specs))
    #expect(again == specs)
    #expect(TransformPipeline(specs).transforms.count == 4)
    for bad in ["[{\"resize\": {}}]", "[{\"random_horizontal_flip\": {\"probabilty\": 0.5}}]", "[{\"random_crop\": {\"relative_size\": [0.9, 0.2]}}]"] {
      #expect(throws: DecodingError.self) { try JSONDecoder().decode([TransformSpec].self, from: data(bad)) }
    }
  }
}
