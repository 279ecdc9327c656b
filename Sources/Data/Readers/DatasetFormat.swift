import Foundation

/// The annotation formats SimpleDet reads, and one entry point for all of them (what configs and
/// the command line use).
public enum DatasetFormat: String, Sendable, Codable, CaseIterable {
  case coco
  case voc
  case lightJSON = "light-json"

  /// Guesses the format: a folder is VOC; a JSON file whose images carry `file` is light JSON,
  /// otherwise COCO. Nil when the path does not exist.
  public static func detect(annotations url: URL) -> DatasetFormat? {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
    if isFolder.boolValue { return .voc }
    // The first image entry decides; reading a few KiB is enough for either format.
    guard let handle = try? FileHandle(forReadingFrom: url) else { return .coco }
    defer { try? handle.close() }
    let head = String(decoding: (try? handle.read(upToCount: 65536)) ?? Data(), as: UTF8.self)
    if head.contains("\"file_name\"") { return .coco }
    if head.contains("\"file\"") { return .lightJSON }
    return .coco
  }

  /// Reads a dataset.
  ///
  /// - Parameters:
  ///   - annotations: the JSON file (COCO, light JSON) or the VOC folder (with `Annotations/`).
  ///   - images: the folder image paths are relative to; for VOC, nil means `JPEGImages/`.
  ///   - classes: VOC's class list (nil: the 20 Pascal classes).
  ///   - imageSet: VOC's image-set list name (nil: every annotation file).
  public func read(
    annotations: URL, images: URL?, classes: [String]? = nil, imageSet: String? = "trainval", policy: BadDataPolicy = .skip
  ) throws -> Dataset {
    switch self {
    case .coco:
      return try COCOReader.read(annotations: annotations, images: images ?? annotations.deletingLastPathComponent(), policy: policy)
    case .lightJSON:
      return try LightJSONReader.read(annotations: annotations, images: images ?? annotations.deletingLastPathComponent(), policy: policy)
    case .voc:
      var dataset = try VOCReader.read(root: annotations, imageSet: imageSet, classes: classes ?? VOCReader.pascalClasses, policy: policy)
      if let images { dataset.imageSource = .folder(images) }
      return dataset
    }
  }
}
