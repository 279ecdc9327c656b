import Config
import Data
import Engine
import Foundation
import Testing

/// Every config under configs/ (found by listing the folder, so a new preset is covered without
/// editing this file) through the command line at a tiny size: a training step and an inference
/// pass with `benchmark`, and `predict` on one image with the preset's initial weights, whose
/// predictions.json must carry the class names of the preset's data (COCO's for COCO and
/// torchvision presets, the dataset's for the others). Data files a preset names need not exist:
/// none of these commands reads them.
@Suite struct PresetTests {
  static let presets: [String] = {
    let configs = repositoryRoot.appendingPathComponent("configs")
    let files = FileManager.default.enumerator(atPath: configs.path)?.compactMap { $0 as? String } ?? []
    return files.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("_base_/") }.sorted()
  }()

  @Test func presetsAreFound() {
    #expect(Self.presets.count >= 16, "\(Self.presets)")
    #expect(Self.presets.contains("torchvision/fasterrcnn_resnet50_fpn.yaml") && Self.presets.contains("shapes/demo.yaml"))
  }

  @Test(arguments: presets)
  func presetRunsThroughTheCommandLine(_ preset: String) throws {
    let folder = try ScratchFolder()
    let config = repositoryRoot.appendingPathComponent("configs/\(preset)").path
    let tiny = ["--size", "64", "--batch", "1", "--iters", "1", "--warmup", "0", "--threads", "1", "--json"]
    for mode in ["train", "infer"] {
      let result = try CommandLineRunner.run(["benchmark", "--config", config, "--mode", mode] + tiny, in: folder.url)
      #expect(result.status == 0, "\(preset) benchmark --mode \(mode): \(result.errors)")
      let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
      #expect(json?["images_per_sec"] is Double, "\(preset) benchmark --mode \(mode): \(result.output)")
    }

    let resolved = try SimpleDetConfig.load(file: config)
    try resolved.model.detector.makeDetector().saveWeights(to: folder.path("initial.safetensors"))
    try ImageCodec.encodePNG(ShapesDataset(imageCount: 1, seed: 3).image(at: 0)).write(to: folder.path("scene.png"))
    // A caffe-style preset takes raw 0-255 pixel values (std 1 on that scale), which its
    // pretrained batch norms would scale down; with random weights and identity norms they give
    // box offsets that put every proposal off the image. Its predict here reads unit-scale input.
    let rawPixels = resolved.model.detector.transform.std.allSatisfy { $0 < 0.01 }
    let unitScale = rawPixels ? ["--set", "model.transform.std=[0.229, 0.224, 0.225]"] : []
    let result = try CommandLineRunner.run(
      ["predict", "--config", config, "--weights", "initial.safetensors", "--input", "scene.png", "--output", "seen",
       "--score-threshold", "0", "--set", "test.min_size=96", "--set", "test.max_size=128"] + unitScale,
      in: folder.url)
    try #require(result.status == 0, "\(preset) predict: \(result.errors)")
    let predictions = try JSONDecoder().decode([Prediction].self, from: Data(contentsOf: folder.path("seen/predictions.json")))
    #expect(!predictions.isEmpty, "\(preset): no detections at score threshold 0")
    let names = try Self.expectedNames(resolved)
    for name in Set(predictions.map(\.categoryName)) {
      #expect(names.contains(name), "\(preset): predicted class name \(name)")
    }
  }

  /// The names a preset's model may predict, from sources independent of the code under test:
  /// torchvision's COCO list (label = category id) for 91-class models, COCO's 80 names for COCO
  /// data, the shapes, the classes KITTI, WiderFace, CrowdHuman, Cityscapes, DOTA, DeepLesion and Kitchen fix, or the data's own file. The background slot is allowed: one-stage heads
  /// score it too.
  static func expectedNames(_ config: SimpleDetConfig) throws -> Set<String> {
    let torchvisionNames = try JSONDecoder().decode(
      [String].self, from: Data(contentsOf: TorchvisionPresetTests.fixtures.appendingPathComponent("coco_categories.json")))
    var names: Set<String>
    switch config.data.kind {
    case _ where config.model.classes == torchvisionNames.count: names = Set(torchvisionNames)
    case .coco: names = Set(torchvisionNames.dropFirst()).subtracting(["N/A"])
    case .shapes: names = ["circle", "rectangle", "triangle"]
    case .voc, .lightJSON: names = Set(try RunData.dataset(config.data, split: .test).metadata.classNames)
    // Formats that fix their classes name them without the data: KITTI's types (the first of
    // each `+` group of data.classes), WiderFace's face, CrowdHuman's person.
    case .kitti:
      let types = ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc"]
      names = config.data.classes.isEmpty ? Set(types) : Set(config.data.classes.map { String($0.prefix { $0 != "+" }) })
    case .widerFace: names = ["face"]
    case .crowdhuman: names = ["person"]
    // cityscapesScripts' labels.py: the eight labels with instances that are evaluated.
    case .cityscapes: names = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
    // DOTA_devkit's class lists: v1.0's 15, with container-crane from v1.5 and airport, helipad from v2.0.
    case .dota:
      let v1 = ["plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle", "ship", "tennis-court",
                "basketball-court", "storage-tank", "soccer-ball-field", "roundabout", "harbor", "swimming-pool", "helicopter"]
      let later: [String] = switch config.data.dotaVersion {
      case .v1_0: []
      case .v1_5: ["container-crane"]
      case .v2_0: ["container-crane", "airport", "helipad"]
      }
      names = Set(v1 + later)
    case .deeplesion: names = ["lesion"]
    // The universal-detection benchmark's kitchen_voc.py.
    case .kitchen:
      names = [
        "coca_cola_glass_bottle", "coffee_mate_french_vanilla", "honey_bunches_of_oats_honey_roasted", "hunts_sauce", "mahatma_rice",
        "nature_valley_soft_baked_oatmeal_squares_cinnamon_brown_sugar", "nature_valley_sweet_and_salty_nut_almond", "palmolive_orange",
        "pop_secret_light_butter", "pringles_bbq", "red_bull",
      ]
    }
    return names.union(["__background__"])
  }
}
