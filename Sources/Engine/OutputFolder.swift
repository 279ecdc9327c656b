import Foundation

/// The folders commands write into.
public enum OutputFolder {
  /// Creates `path` (and its parents) unless it exists as a writable folder; `role` names it in
  /// errors ("the run folder", "the output folder").
  @discardableResult
  public static func create(_ path: String, role: String = "the output folder") throws -> URL {
    let url = URL(fileURLWithPath: path)
    let manager = FileManager.default
    var isFolder: ObjCBool = false
    if manager.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue {
      throw EngineError("cannot create \(role) \(url.path): a file of that name exists")
    }
    do {
      try manager.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
      throw EngineError("cannot create \(role) \(url.path): \(error.localizedDescription)")
    }
    guard manager.isWritableFile(atPath: url.path) else {
      throw EngineError("\(role) \(url.path) is not writable")
    }
    return url
  }
}
