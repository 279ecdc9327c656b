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
  /// against `modelClasses`. With `labelsMayBeIds`, a model whose labels are the category ids
  /// themselves (torchvision's 91-class COCO models: `modelClasses` is the largest id plus one)
  /// is accepted too; training always counts categories contiguously.
  public static func classes(of dataset: Dataset, modelClasses: Int, labelsMayBeIds: Bool = false) throws -> DetectionClasses {
    let classes = DetectionClasses(metadata: dataset.metadata)
    if labelsMayBeIds, modelClasses != classes.count + 1, let largest = classes.categoryIds.max(),
      largest == modelClasses - 1, classes.categoryIds.allSatisfy({ $0 >= 1 })
    {
      var names = (1..<modelClasses).map { _ in "N/A" }
      for (id, name) in zip(classes.categoryIds, classes.names) { names[id - 1] = name }
      return DetectionClasses(names: names, categoryIds: Array(1..<modelClasses))
    }
    guard modelClasses == classes.count + 1 else {
      throw EngineError(
        "model.classes is \(modelClasses) but the dataset has \(classes.count) categories; set model.classes to \(classes.count + 1) (background + categories)")
    }
    return classes
  }

  /// The class names for prediction, from the test split's categories when the data can be read
  /// and fits the model; otherwise COCO's names for 91-class models (torchvision's weights), or
  /// numbers.
  public static func classesForPrediction(_ config: SimpleDetConfig) -> DetectionClasses {
    let modelClasses = config.model.classes
    if let dataset = try? dataset(config.data, split: .test),
      let classes = try? classes(of: dataset, modelClasses: modelClasses, labelsMayBeIds: true)
    {
      return classes
    }
    if modelClasses == DetectionClasses.torchvisionCOCO.count + 1 { return .torchvisionCOCO }
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

  /// torchvision's COCO models: labels are COCO's category ids 1...90, with gaps ("N/A").
  public static let torchvisionCOCO = DetectionClasses(
    names: [
      "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
      "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
      "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie",
      "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
      "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife", "spoon",
      "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
      "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv",
      "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "N/A",
      "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ],
    categoryIds: Array(1...90))

  public func name(ofLabel label: Int) -> String {
    label >= 1 && label <= count ? names[label - 1] : "class \(label)"
  }

  public func categoryId(ofLabel label: Int) -> Int {
    label >= 1 && label <= count ? categoryIds[label - 1] : label
  }
}
