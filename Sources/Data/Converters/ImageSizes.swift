import Foundation

/// Image sizes read from file headers, for formats whose labels do not carry them (KITTI,
/// WiderFace, CrowdHuman). Uses the same header reader as `dataset check --quick`
/// (`ImageCodec.info`: EXIF orientation applied), reads only the first bytes of each file when
/// they hold the header, and spreads the files over threads.
enum ImageSizes {
  enum Measured {
    case size(width: Int, height: Int)
    case problem(DataIssue)
  }

  /// The size of each file in order, or the problem that stops it being read (a missing or
  /// unreadable file, or one that is not a JPEG or PNG), located by `records[i]`.
  static func read(_ files: [URL], records: [String], threadCount: Int = 4) -> [Measured] {
    let slots = SizeSlots(count: files.count)
    let threads = max(1, threadCount)
    let chunk = max(1, (files.count + threads * 8 - 1) / (threads * 8))
    let chunks = (files.count + chunk - 1) / chunk
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
      for i in (c * chunk)..<min(files.count, (c + 1) * chunk) {
        slots.set(i, size(of: files[i], record: records[i]))
      }
    }
    return slots.all
  }

  /// Images named `<name>.png` in `folder`, one per annotation file (KITTI, Kitchen): their ids
  /// (the names when they are distinct numbers, else positions), file names, the names records
  /// are reported by, and their sizes as `measure` gives them.
  static func measurePNGs(named names: [String], in folder: URL, threadCount: Int) -> (
    ids: [Int], fileNames: [String], recordNames: [String], sizes: [(width: Int, height: Int)?], issues: [DataIssue]
  ) {
    let numericIds = names.compactMap { Int($0) }
    let ids = numericIds.count == names.count && Set(numericIds).count == names.count ? numericIds : Array(names.indices)
    let fileNames = names.map { "\($0).png" }
    let recordNames = zip(ids, fileNames).map { "image \($0) (\($1))" }
    let (sizes, issues) = measure(
      fileNames.map { folder.appendingPathComponent($0) }, records: recordNames, threadCount: threadCount)
    return (ids, fileNames, recordNames, sizes, issues)
  }

  /// The size of each file in order, nil where it cannot be read; the problems are in `issues`.
  static func measure(_ files: [URL], records: [String], threadCount: Int = 4) -> (sizes: [(width: Int, height: Int)?], issues: [DataIssue]) {
    var issues: [DataIssue] = []
    let sizes = read(files, records: records, threadCount: threadCount).map { (measured) -> (width: Int, height: Int)? in
      switch measured {
      case .size(let width, let height): return (width, height)
      case .problem(let issue):
        issues.append(issue)
        return nil
      }
    }
    return (sizes, issues)
  }

  /// JPEG headers (with EXIF) nearly always fit in this many bytes; a file whose header does not
  /// is read whole.
  static let headerBytes = 256 * 1024

  static func size(of url: URL, record: String) -> Measured {
    guard FileManager.default.fileExists(atPath: url.path) else {
      return .problem(DataIssue(.missingImage, file: url.path, record: record, detail: "no such file (the labels do not carry the image size)"))
    }
    guard let handle = try? FileHandle(forReadingFrom: url), let head = try? handle.read(upToCount: headerBytes) else {
      return .problem(DataIssue(.unreadableImage, file: url.path, record: record, detail: "the file cannot be read"))
    }
    try? handle.close()
    if let info = try? ImageCodec.info(head) { return .size(width: info.width, height: info.height) }
    do {
      let info = try ImageCodec.info(try Data(contentsOf: url))
      return .size(width: info.width, height: info.height)
    } catch {
      return .problem(DataIssue(.corruptImage, file: url.path, record: record, detail: "\(error)"))
    }
  }
}

/// One result slot per file, written from several threads.
private final class SizeSlots: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [ImageSizes.Measured?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ result: ImageSizes.Measured) { lock.withLock { slots[index] = result } }
  var all: [ImageSizes.Measured] {
    lock.withLock {
      slots.map { $0 ?? .problem(DataIssue(.unreadableImage, file: "", record: "", detail: "not read")) }
    }
  }
}
