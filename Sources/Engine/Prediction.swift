import Config
import Data
import Detection
import Foundation
import Masks
import Torch

/// One detection in `predictions.json`: COCO's results form keyed by file name, with the class
/// name beside the id.
public struct Prediction: Codable, Equatable, Sendable {
  /// COCO's compressed run-length mask: `{"size": [height, width], "counts": "..."}`.
  public struct Segmentation: Codable, Equatable, Sendable {
    public var size: [Int]
    public var counts: String
  }

  public var fileName: String
  public var categoryId: Int
  public var categoryName: String
  /// `[x, y, width, height]` in the original image's pixels.
  public var bbox: [Double]
  public var score: Double
  /// The mask (pixels with probability 0.5 or more), for detectors with masks.
  public var segmentation: Segmentation?

  private enum CodingKeys: String, CodingKey {
    case fileName = "file_name", categoryId = "category_id", categoryName = "category_name", bbox, score, segmentation
  }

  /// The mask as 0/1 bytes, row-major, when there is one.
  public var maskBitmap: [UInt8]? {
    guard let segmentation, segmentation.size.count == 2,
      let rle = try? RLE(height: segmentation.size[0], width: segmentation.size[1], compressedCounts: segmentation.counts)
    else { return nil }
    return rle.decoded(order: .rowMajor)
  }
}

/// Runs a detector on image files.
public struct Predictor {
  public let model: any Detector
  public let classes: DetectionClasses
  public let precision: RuntimeSection.Precision

  public init(model: any Detector, classes: DetectionClasses, precision: RuntimeSection.Precision = .fp32) {
    self.model = model
    self.classes = classes
    self.precision = precision
  }

  /// The detector a config describes with `weights` loaded for inference (see
  /// `ModelLoading.inferenceModel`), its class names, and the config's precision: what
  /// `simpledet predict` and `serve` run.
  public init(config: SimpleDetConfig, weights: URL) throws {
    self.init(
      model: try ModelLoading.inferenceModel(config: config, weights: weights), classes: RunData.classesForPrediction(config),
      precision: config.runtime.precision)
  }

  /// The images a path names: the file itself, or the JPEG and PNG files directly in a folder,
  /// sorted by name.
  public static func images(at path: String) throws -> [URL] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw EngineError("\(path): no such file or folder")
    }
    let url = URL(fileURLWithPath: path)
    guard isFolder.boolValue else { return [url] }
    let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    let images = names.filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
    guard !images.isEmpty else { throw EngineError("\(path): no .jpg, .jpeg or .png files in the folder") }
    return images.map { url.appendingPathComponent($0) }
  }

  /// Decodes `url` (RGB, EXIF orientation applied) and detects objects in it.
  public func predict(_ url: URL) throws -> (image: Image, detections: [Prediction]) {
    let image: Image
    do {
      image = try ImageCodec.decode(contentsOf: url, channels: 3)
    } catch {
      throw EngineError("\(url.path): \(error)")
    }
    return (image, predict(image, fileName: url.lastPathComponent))
  }

  /// The objects detected in `image`, reported under `fileName`.
  public func predict(_ image: Image, fileName: String) -> [Prediction] {
    predict([image], fileNames: [fileName])[0]
  }

  /// The objects detected in each of `images` (one forward pass over the batch), each reported
  /// under its file name.
  public func predict(_ images: [Image], fileNames: [String]) -> [[Prediction]] {
    guard !images.isEmpty else { return [] }
    let found = withPrecision(precision) { model.detect(images.map(Self.tensor)) }
    return zip(found, fileNames).map { predictions(in: $0, fileName: $1) }
  }

  private func predictions(in found: Instances, fileName: String) -> [Prediction] {
    let labels = found["labels"].map { $0.to(.int64).toArray(Int64.self) } ?? []
    return zip(cocoDetections(found, imageId: 0, classes: classes), labels).map { d, label in
      Prediction(
        fileName: fileName, categoryId: d.categoryID, categoryName: classes.name(ofLabel: Int(label)),
        bbox: d.box!.coordinates, score: d.score,
        segmentation: d.segmentation.flatMap { segmentation -> Prediction.Segmentation? in
          guard case .mask(let rle) = segmentation else { return nil }
          return Prediction.Segmentation(size: [rle.height, rle.width], counts: rle.compressedCounts)
        })
    }
  }

  /// `[3, H, W]` float32 in [0, 1], as the detector takes images.
  public static func tensor(_ image: Image) -> Tensor {
    let rgb = image.channels == 3 ? image : image.converted(toChannels: 3)
    let bytes = rgb.pixels.withUnsafeBytes { Tensor(bytes: $0, shape: [rgb.height, rgb.width, 3], dtype: .uint8) }
    return bytes.permuted([2, 0, 1]).to(.float32) / 255
  }

  /// Writes `predictions` as a JSON array.
  public static func write(_ predictions: [Prediction], to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do {
      try encoder.encode(predictions).write(to: url, options: .atomic)
    } catch {
      throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}
