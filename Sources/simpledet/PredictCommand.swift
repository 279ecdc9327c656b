import ArgumentParser
import Config
import Engine
import Foundation
import Torch

/// `simpledet predict`: runs a trained detector on images and shows what it sees.
struct Predict: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Detect objects in images: predictions.json and a picture per image.",
    discussion: """
      Writes DIR/predictions.json, a list of {"file_name", "category_id", "category_name", \
      "bbox": [x, y, w, h], "score"} with boxes in the original image's pixels, and DIR/NAME.png \
      per image with the boxes, class names and scores drawn in one colour per class. Class \
      names come from the config's test data when it can be read, else COCO's for 91-class \
      models (torchvision weights) and for 81-class models of COCO configs, else numbers.
      """)

  @Option(help: ArgumentHelp("The config file (YAML) whose model the weights belong to.", valueName: "file"))
  var config: String

  @Option(help: ArgumentHelp("The model's weights (.safetensors, or a PyTorch .pth state dict).", valueName: "file"))
  var weights: String

  @Option(help: ArgumentHelp("An image, or a folder of .jpg/.png images.", valueName: "path"))
  var input: String

  @Option(help: ArgumentHelp("The folder to write predictions.json and the pictures into.", valueName: "dir"))
  var output: String

  @Option(help: "Keep detections scoring at least this (default: the config's test.score_threshold).")
  var scoreThreshold: Double?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp("Overrides a config key (repeatable).", valueName: "key.path=value"))
  var overrides: [String] = []

  func validate() throws {
    if let scoreThreshold, !(0...1).contains(scoreThreshold) {
      throw ValidationError("--score-threshold must be between 0 and 1")
    }
  }

  func run() throws {
    try Torch.checkVersion()
    do {
      var resolved = try SimpleDetConfig.load(file: config, overrides: overrides)
      if let scoreThreshold { resolved.test.scoreThreshold = scoreThreshold }
      Torch.threadCount = resolved.runtime.threads
      let images = try Predictor.images(at: input)
      let folder = try OutputFolder.create(output)
      let predictor = try Predictor(config: resolved, weights: URL(fileURLWithPath: weights))
      var all: [Prediction] = []
      for url in images {
        let (image, detections) = try predictor.predict(url)
        all += detections
        let picture = folder.appendingPathComponent(url.deletingPathExtension().lastPathComponent + ".png")
        try predictor.drawPicture(image, detections: detections, to: picture)
        printLine("\(url.lastPathComponent): \(detections.count) detections")
      }
      let json = folder.appendingPathComponent("predictions.json")
      try Predictor.write(all, to: json)
      printLine("wrote \(json.path) and \(images.count) pictures")
    } catch {
      throw fail(error)
    }
  }
}
