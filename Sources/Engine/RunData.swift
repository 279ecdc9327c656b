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
    guard let format = data.kind.format else { return ShapesDataset(files.shapes).dataset }
    guard let annotations = files.annotations else {
      throw EngineError("\(key).annotations is required for \(data.kind.rawValue) data")
    }
    let annotationsURL = try existing(annotations, key: "\(key).annotations")
    let imagesURL = try files.images.map { try existing($0, key: "\(key).images") }
    return try format.read(
      annotations: annotationsURL, images: imagesURL, classes: data.classes.isEmpty ? nil : data.classes, imageSet: files.imageSet,
      crowdHumanBox: data.crowdhumanBox, dotaVersion: data.dotaVersion)
  }

  /// The class names the model predicts, for labels 1..<classes (label 0 is background), checked
  /// against `modelClasses`. With `labelsMayBeIds`, a model whose labels are the category ids
  /// themselves (torchvision's 91-class COCO models: `modelClasses` is the largest id plus one)
  /// is accepted too; training always counts categories contiguously.
  public static func classes(of dataset: Dataset, modelClasses: Int, labelsMayBeIds: Bool = false) throws -> DetectionClasses {
    let classes = DetectionClasses(metadata: dataset.metadata)
    if labelsMayBeIds, modelClasses != classes.count + 1, let byId = DetectionClasses(labelledByCategoryId: dataset.metadata, modelClasses: modelClasses) {
      return byId
    }
    guard modelClasses == classes.count + 1 else {
      throw EngineError(
        "model.classes is \(modelClasses) but the dataset has \(classes.count) categories; set model.classes to \(classes.count + 1) (background + categories)")
    }
    return classes
  }

  /// The class names for prediction, from the test split's categories when the data can be read
  /// and fits the model; otherwise COCO's names for 91-class models (torchvision's weights) and
  /// for COCO-data models with COCO's 80 classes (the COCO presets, without COCO at hand), the
  /// format's own classes where the format fixes them (KITTI's configured list, WiderFace's face,
  /// CrowdHuman's person), or numbers.
  public static func classesForPrediction(_ config: SimpleDetConfig) -> DetectionClasses {
    let modelClasses = config.model.classes
    if let dataset = try? dataset(config.data, split: .test),
      let classes = try? classes(of: dataset, modelClasses: modelClasses, labelsMayBeIds: true)
    {
      return classes
    }
    if modelClasses == DetectionClasses.torchvisionCOCO.count + 1 { return .torchvisionCOCO }
    if config.data.kind == .coco, modelClasses == DatasetMetadata.coco.classCount + 1 { return DetectionClasses(metadata: .coco) }
    let classes = config.data.classes.isEmpty ? nil : config.data.classes
    if let fixed = config.data.kind.format?.fixedMetadata(classes: classes, dotaVersion: config.data.dotaVersion), modelClasses == fixed.classCount + 1 {
      return DetectionClasses(metadata: fixed)
    }
    return .numbered(modelClasses: modelClasses)
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

  /// Fails, naming `source` (where the names and ids came from), unless there is one id per name.
  public init(names: [String], categoryIds: [Int], source: String) throws {
    guard names.count == categoryIds.count else {
      throw EngineError("\(source): \(names.count) class names for \(categoryIds.count) category ids")
    }
    self.names = names
    self.categoryIds = categoryIds
  }

  public init(metadata: DatasetMetadata) {
    names = metadata.categories.map(\.name)
    categoryIds = metadata.categories.map(\.id)
  }

  /// A model whose labels are the category ids themselves (torchvision's 91-class COCO models:
  /// `modelClasses` is the largest id plus one), with "N/A" for the ids no category has; nil
  /// when the ids do not fit that model.
  public init?(labelledByCategoryId metadata: DatasetMetadata, modelClasses: Int) {
    let ids = metadata.categories.map(\.id)
    guard let largest = ids.max(), largest == modelClasses - 1, ids.allSatisfy({ $0 >= 1 }) else { return nil }
    var names = (1..<modelClasses).map { _ in "N/A" }
    for category in metadata.categories { names[category.id - 1] = category.name }
    self.names = names
    categoryIds = Array(1..<modelClasses)
  }

  /// Without a dataset: `class 1`, `class 2`, … with ids equal to the labels.
  public static func numbered(modelClasses: Int) -> DetectionClasses {
    let labels = Array(1..<max(modelClasses, 1))
    return DetectionClasses(metadata: DatasetMetadata(categories: labels.map { .init(id: $0, name: "class \($0)") }))
  }

  public var count: Int { names.count }

  /// torchvision's COCO models: labels are COCO's category ids 1...90, with gaps ("N/A"), named
  /// from `DatasetMetadata.coco`.
  public static let torchvisionCOCO = DetectionClasses(labelledByCategoryId: .coco, modelClasses: 91)!

  /// The class name of `label`. Label 0 is the background slot, which one-stage heads score
  /// like any class (as torchvision's RetinaNet and FCOS do); it is named as torchvision names it.
  public func name(ofLabel label: Int) -> String {
    if label == 0 { return Self.backgroundName }
    return label >= 1 && label <= count ? names[label - 1] : "class \(label)"
  }

  public static let backgroundName = "__background__"

  public func categoryId(ofLabel label: Int) -> Int {
    label >= 1 && label <= count ? categoryIds[label - 1] : label
  }
}
