import Foundation

/// Where a dataset kept as one annotation file per split (WIDER FACE, CrowdHuman) has its files:
/// the annotation file given, or inside the dataset's folder the split's file; and the images'
/// folder as the dataset's layout places it (nil when it cannot be told).
public struct SplitFiles: Sendable, Equatable {
  public var annotations: URL
  public var images: URL?

  /// - Parameters:
  ///   - url: the annotation file, or the dataset's folder.
  ///   - split: inside a folder, the split (nil: `train`).
  ///   - file: the split's annotation file, relative to the folder.
  ///   - images: the split's image folder, relative to the folder.
  ///   - imagesBesideFile: the image folder for an annotation file given directly.
  static func locate(
    _ url: URL, split: String?, file: (String) -> String, images: (String) -> String, imagesBesideFile: (URL) -> URL?
  ) throws -> SplitFiles {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
      throw DatasetFormatError(file: url.path, message: "no such file or folder")
    }
    guard isFolder.boolValue else { return SplitFiles(annotations: url, images: imagesBesideFile(url)) }
    let split = split ?? "train"
    return SplitFiles(annotations: url.appendingPathComponent(file(split)), images: url.appendingPathComponent(images(split)))
  }

  /// `given`, or the layout's image folder; an error when neither is known.
  public func imageFolder(or given: URL?) throws -> URL {
    guard let folder = given ?? images else {
      throw DatasetFormatError(file: annotations.path, message: "cannot tell where the images are from the file name: name the image folder")
    }
    return folder
  }
}
