import Config
import Data
import Foundation

/// The datasets a config's `data` section names, read and checked.
public enum RunData {
  public enum Split: String, Sendable {
    case train, test
  }

  /// Reads `split` of `data`. Paths are relative to the working directory; a missing path is an
  /// error naming the key and the path, and unreadable annotations name their file.
  public static func dataset(_ data: DataSection, split: Split) throws -> Dataset {
    let files = split == .train ? data.train : data.test
    let key = "data.\(split.rawValue)"
    let format: DatasetFormat
    switch data.kind {
    case .shapes:
      return ShapesDataset(files.shapes).dataset
    case .coco: format = .coco
    case .voc: format = .voc
    case .lightJSON: format = .lightJSON
    }
    guard let annotations = files.annotations else {
      throw EngineError("\(key).annotations is required for \(data.kind.rawValue) data")
    }
    let annotationsURL = try existing(annotations, key: "\(key).annotations")
    let imagesURL = try files.images.map { try existing($0, key: "\(key).images") }
    return try format.read(annotations: annotationsURL, images: imagesURL, imageSet: files.imageSet)
  }

  /// The class names the model predicts, for labels 1..<classes (label 0 is background), checked
  /// against `modelClasses`.
  public static func classes(of dataset: Dataset, modelClasses: Int) throws -> DetectionClasses {
    let classes = DetectionClasses(metadata: dataset.metadata)
    guard modelClasses == classes.count + 1 else {
      throw EngineError(
        "model.classes is \(modelClasses) but the dataset has \(classes.count) categories; set model.classes to \(classes.count + 1) (background + categories)")
    }
    return classes
  }

  private static func existing(_ path: String, key: String) throws -> URL {
    let url = URL(fileURLWithPath: path)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw EngineError("\(key): \(path) does not exist")
    }
    return url
  }
}

/// How the detector's labels map to a dataset's categories: label `l` (1-based, 0 is background)
/// is category `categories[l - 1]`.
public struct DetectionClasses: Sendable, Equatable {
  public let names: [String]
  public let categoryIds: [Int]

  public init(names: [String], categoryIds: [Int]) {
    precondition(names.count == categoryIds.count, "DetectionClasses: one id per name")
    self.names = names
    self.categoryIds = categoryIds
  }

  public init(metadata: DatasetMetadata) {
    self.init(names: metadata.categories.map(\.name), categoryIds: metadata.categories.map(\.id))
  }

  /// Without a dataset: `class 1`, `class 2`, … with ids equal to the labels.
  public static func numbered(modelClasses: Int) -> DetectionClasses {
    DetectionClasses(names: (1..<modelClasses).map { "class \($0)" }, categoryIds: Array(1..<modelClasses))
  }

  public var count: Int { names.count }

  public func name(ofLabel label: Int) -> String {
    label >= 1 && label <= count ? names[label - 1] : "class \(label)"
  }

  public func categoryId(ofLabel label: Int) -> Int {
    label >= 1 && label <= count ? categoryIds[label - 1] : label
  }
}
