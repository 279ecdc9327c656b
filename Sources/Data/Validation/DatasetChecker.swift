import Foundation

/// Checks a dataset's images against its records before training: every file exists, can be
/// read and decoded, and has the size the annotations were made for. Annotation problems were
/// already found by the reader (`Dataset.issues`); this adds the image problems.
public struct DatasetChecker: Sendable {
  public enum Depth: String, Sendable, Codable {
    /// Read each file's header: finds missing, unreadable and wrong-size images, and files that
    /// are not images at all. Fast.
    case headers
    /// Decode every image in full: also finds truncated and corrupt image data.
    case full
  }

  public var depth: Depth
  /// Threads that read images in parallel.
  public var threadCount: Int

  public init(depth: Depth = .full, threadCount: Int = 2) {
    self.depth = depth
    self.threadCount = max(1, threadCount)
  }

  /// The image problems of `dataset`, one per bad record, in record order.
  public func imageIssues(in dataset: Dataset) -> [DataIssue] {
    guard case .folder(let root) = dataset.imageSource else { return [] }
    let records = dataset.records
    let results = IssueSlots(count: records.count)
    let depth = depth
    let chunk = max(1, (records.count + threadCount * 8 - 1) / (threadCount * 8))
    let chunks = (records.count + chunk - 1) / chunk
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
      for i in (c * chunk)..<min(records.count, (c + 1) * chunk) {
        results.set(i, DatasetChecker.check(records[i], root: root, depth: depth))
      }
    }
    return results.all
  }

  /// The full report: the reader's annotation issues and the image issues.
  public func issues(in dataset: Dataset) -> [DataIssue] { dataset.issues + imageIssues(in: dataset) }

  /// What training calls before it starts: under `skip` the dataset without its bad images
  /// (every problem is in the returned dataset's `issues`); under `fail` an error listing every
  /// problem.
  public func validated(_ dataset: Dataset, policy: BadDataPolicy) throws -> Dataset {
    let imageIssues = imageIssues(in: dataset)
    let all = dataset.issues + imageIssues
    if policy == .fail, !all.isEmpty { throw DataValidationError(issues: all) }
    let bad = Set(imageIssues.map(\.record))
    var result = dataset
    result.records = dataset.records.filter { !bad.contains(DatasetChecker.recordName($0)) }
    result.issues = all
    return result
  }

  static func recordName(_ record: DatasetRecord) -> String { "image \(record.imageId) (\(record.fileName))" }

  static func check(_ record: DatasetRecord, root: URL, depth: Depth) -> DataIssue? {
    let url = root.appendingPathComponent(record.fileName)
    let name = recordName(record)
    guard FileManager.default.fileExists(atPath: url.path) else {
      return DataIssue(.missingImage, file: url.path, record: name, detail: "no such file")
    }
    guard let data = FileManager.default.contents(atPath: url.path) else {
      return DataIssue(.unreadableImage, file: url.path, record: name, detail: "the file cannot be read")
    }
    let size: (width: Int, height: Int)
    do {
      switch depth {
      case .headers:
        let info = try ImageCodec.info(data)
        size = (info.width, info.height)
      case .full:
        let image = try ImageCodec.decode(data)
        size = (image.width, image.height)
      }
    } catch {
      return DataIssue(.corruptImage, file: url.path, record: name, detail: "\(error)")
    }
    if size.width != record.width || size.height != record.height {
      return DataIssue(.sizeMismatch, file: url.path, record: name,
        detail: "the file is \(size.width)x\(size.height), the annotation says \(record.width)x\(record.height)")
    }
    return nil
  }
}

/// One result slot per record, written from several threads.
private final class IssueSlots: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [DataIssue?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ issue: DataIssue?) { lock.withLock { slots[index] = issue } }
  var all: [DataIssue] { lock.withLock { slots.compactMap { $0 } } }
}
