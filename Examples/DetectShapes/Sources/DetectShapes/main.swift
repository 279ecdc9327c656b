// Finds circles, rectangles and triangles in an image with SimpleDet's Faster R-CNN: the model that
// `make demo` trains (configs/shapes/demo.yaml), built from its configuration in Swift.
//
//   swift run DetectShapes [IMAGE] [--weights MODEL.safetensors] [--score-threshold S]
//
// Without an image it draws one of SimpleDet's synthetic shapes scenes and saves it as shapes.png;
// without weights the model keeps its seeded initialisation, so its detections are arbitrary (but
// the same on every run): pass the demo's runs/demo/model_final.safetensors for real ones.
import Data
import Detection
import Foundation
import Torch

struct Options {
  var image: String?
  var weights: String?
  var scoreThreshold = 0.05

  init(_ arguments: [String]) throws {
    var rest = arguments[...]
    while let argument = rest.popFirst() {
      switch argument {
      case "--weights": weights = rest.popFirst()
      case "--score-threshold": scoreThreshold = rest.popFirst().flatMap(Double.init) ?? .nan
      default: image = argument
      }
    }
    guard scoreThreshold.isFinite else { throw UsageError("--score-threshold needs a number") }
  }
}

struct UsageError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// The demo's detector: a Faster R-CNN over a half-width ResNet-18 with an FPN, for three classes.
func shapesConfiguration(scoreThreshold: Double) -> DetectorConfiguration {
  var configuration = DetectorConfiguration()
  configuration.classes = 1 + ShapesDataset.classNames.count  // background first
  configuration.backbone = .resnet(ResNet.Configuration(depth: 18, norm: .batchNorm, frozenStages: 0, baseChannels: 32))
  configuration.neck = .fpn(FPNConfiguration(channels: 64))
  configuration.transform.minSize = [320]
  configuration.transform.maxSize = 512
  configuration.rpn?.anchorSizes = [[16], [32], [64], [128], [256]]
  configuration.rpn?.preNMSTopNTest = 300
  configuration.rpn?.postNMSTopNTest = 100
  configuration.roiHeads?.standard?.boxHead = .twoMLP(representationSize: 256)
  configuration.roiHeads?.standard?.scoreThreshold = scoreThreshold
  return configuration
}

func run() throws {
  let options = try Options(Array(CommandLine.arguments.dropFirst()))
  try Torch.checkVersion()
  Torch.threadCount = 2

  let image: Image
  if let path = options.image {
    image = try ImageCodec.decode(contentsOf: URL(fileURLWithPath: path), channels: 3)
  } else {
    image = ShapesDataset(imageCount: 1, seed: 7).image(at: 0)
    try ImageCodec.encodePNG(image).write(to: URL(fileURLWithPath: "shapes.png"))
    print("drew a shapes scene: shapes.png")
  }

  let model = GeneralizedRCNN(shapesConfiguration(scoreThreshold: options.scoreThreshold))
  if let weights = options.weights {
    try model.loadWeights(contentsOf: URL(fileURLWithPath: weights))
  } else {
    print("no --weights: the model keeps its seeded initialisation, so what it finds is arbitrary")
  }
  model.eval()

  let pixels = image.pixels.withUnsafeBytes { Tensor(bytes: $0, shape: [image.height, image.width, 3], dtype: .uint8) }
  let input = pixels.permuted(2, 0, 1).to(.float32) / 255  // [3, H, W] in [0, 1]
  let detections = withNoGrad { model.detect([input])[0] }

  let boxes = detections.boxes!.tensor.toArray(Float.self)
  let labels = detections["labels"]!.toArray(Int.self)
  let scores = detections["scores"]!.toArray(Float.self)
  print("\(labels.count) detections in \(image.width)x\(image.height) pixels")
  for i in labels.indices.prefix(10) {
    let box = boxes[(4 * i)..<(4 * i + 4)].map { String(format: "%.1f", $0) }.joined(separator: ", ")
    let name = ShapesDataset.classNames[labels[i] - 1].padding(toLength: 9, withPad: " ", startingAt: 0)
    print("  \(name) \(String(format: "%.3f", scores[i]))  [\(box)]")
  }
}

do {
  try run()
} catch {
  FileHandle.standardError.write(Data("DetectShapes: \(error)\n".utf8))
  exit(1)
}
