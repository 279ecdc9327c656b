import Foundation
import Testing
import Data
import Detection
import NN
import Torch

/// The prediction example of docs/detection.md, run on a small model and a PNG written here, so
/// the documented calls stay real.
@Suite(.serialized) struct ReadmePredictionTests {
  @Test func predictOnAnImageFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-predict-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let png = directory.appendingPathComponent("street.png")
    let picture = Image(width: 80, height: 60, filledWith: [30, 120, 200])
    try ImageCodec.encodePNG(picture).write(to: png)
    let weights = directory.appendingPathComponent("weights.safetensors")
    try GeneralizedRCNN(smallFasterRCNNConfiguration()).saveWeights(to: weights)

    let model = GeneralizedRCNN(smallFasterRCNNConfiguration())
    try model.loadWeights(contentsOf: weights)
    model.eval()

    let image = try ImageCodec.decode(contentsOf: png, channels: 3)
    let pixels = image.pixels.withUnsafeBytes { Tensor(bytes: $0, shape: [image.height, image.width, 3], dtype: .uint8) }
    let input = pixels.permuted(2, 0, 1).to(.float32) / 255

    let detections = model.detect([input])[0]
    let boxes = detections.boxes!.tensor.toArray(Float.self)
    let labels = detections["labels"]!.toArray(Int.self)
    let scores = detections["scores"]!.toArray(Float.self)
    #expect(input.shape == [3, 60, 80])
    #expect(Swift.abs(input[2, 0, 0].floatValue() - 200.0 / 255) < 1e-6)
    #expect(boxes.count == 4 * labels.count && scores.count == labels.count)
    #expect(detections.imageSize.height == 60 && detections.imageSize.width == 80)
    #expect(boxes.allSatisfy { $0 >= 0 && $0 <= 80 })
  }
}
