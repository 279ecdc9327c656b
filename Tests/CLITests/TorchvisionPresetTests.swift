import Engine
import Foundation
import Masks
import Testing
import Torch

/// `simpledet predict` with each torchvision preset against plain torchvision on the same PNG file
/// (fixtures by tools/make_torchvision_cli_fixtures.py: torchvision 0.29.2's own builders, batch
/// norm calibrated on the image). The weights are rebuilt here from the fixture's rule, written
/// as safetensors and given to the command line, as a user with torchvision's weights would.
@Suite(.serialized) struct TorchvisionPresetTests {
  static let fixtures = repositoryRoot.appendingPathComponent("Tests/CLITests/Fixtures/torchvision")

  static let presets = [
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2",
    "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2", "fcos_resnet50_fpn",
  ]

  struct Expected: Decodable {
    struct Detection: Decodable {
      var box: [Double]
      var label: Int
      var score: Double
      var mask: Prediction.Segmentation?
    }
    /// Torchvision's top detections on each image file.
    var images: [String: [Detection]]
  }

  /// One preset file per fixture, so neither can be added without the other.
  @Test func everyTorchvisionPresetHasAFixture() throws {
    let configs = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("configs/torchvision").path)
    #expect(Set(configs.map { ($0 as NSString).deletingPathExtension }) == Set(Self.presets))
  }

  /// The COCO class names predictions carry are torchvision's, label for label.
  @Test func cocoNamesAreTorchvisions() throws {
    let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("coco_categories.json")))
    #expect(names.count == 91 && names[0] == "__background__")
    #expect(DetectionClasses.torchvisionCOCO.names == Array(names.dropFirst()))
    #expect(DetectionClasses.torchvisionCOCO.categoryIds == Array(1...90))
  }

  @Test(arguments: presets)
  func predictGivesTorchvisionsDetections(_ preset: String) throws {
    let folder = try ScratchFolder()
    let weights = folder.path("\(preset).safetensors")
    try SafeTensors.write(try rebuiltWeights(preset, fixtures: Self.fixtures), to: weights)
    let config = repositoryRoot.appendingPathComponent("configs/torchvision/\(preset).yaml")
    let expected = try JSONDecoder().decode(
      Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("\(preset).detections.json")))
    let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("coco_categories.json")))
    for (image, theirs) in expected.images.sorted(by: { $0.key < $1.key }) {
      let output = "out-" + image
      let result = try CommandLineRunner.run(
        ["predict", "--config", config.path, "--weights", weights.path, "--input", Self.fixtures.appendingPathComponent(image).path,
         "--output", output, "--score-threshold", "0"],
        in: folder.url)
      try #require(result.status == 0, "\(result.errors)")
      let ours = try JSONDecoder().decode([Prediction].self, from: Data(contentsOf: folder.path("\(output)/predictions.json")))
      let (boxes, masks) = Self.matches(theirs, in: ours, names: names)
      let needed = Int((0.98 * Double(theirs.count)).rounded(.up))
      #expect(theirs.count == 50)
      #expect(boxes >= needed, "\(preset) on \(image): \(boxes) of torchvision's top \(theirs.count) detections found")
      if theirs.first?.mask != nil {
        #expect(masks >= needed, "\(preset) on \(image): \(masks) masks equal torchvision's (IoU >= 0.95)")
      }
    }
  }

  /// How many of torchvision's detections `ours` has (same label and name, box IoU >= 0.99,
  /// score within 2e-3), and how many of those also have its mask (mask IoU >= 0.95).
  static func matches(_ theirs: [Expected.Detection], in ours: [Prediction], names: [String]) -> (boxes: Int, masks: Int) {
    var boxes = 0
    var masks = 0
    for detection in theirs {
      let candidates = ours.filter { $0.categoryId == detection.label && abs($0.score - detection.score) <= 2e-3 }
      guard let best = candidates.max(by: { boxIoU($0.corners, detection.box) < boxIoU($1.corners, detection.box) }),
        boxIoU(best.corners, detection.box) >= 0.99
      else { continue }
      boxes += 1
      #expect(best.categoryName == names[detection.label])
      if let mask = detection.mask, let bitmap = best.maskBitmap,
        let theirBitmap = try? RLE(height: mask.size[0], width: mask.size[1], compressedCounts: mask.counts).decoded(order: .rowMajor),
        bitmapIoU(bitmap, theirBitmap) >= 0.95
      {
        masks += 1
      }
    }
    return (boxes, masks)
  }
}

/// The repository this test file lies in.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
