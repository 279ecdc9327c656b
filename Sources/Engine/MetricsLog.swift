import Foundation

/// `metrics.jsonl`: one JSON object per line, each with an `iteration` key.
public final class MetricsLog {
  public let url: URL
  private let handle: FileHandle
  /// A TensorBoard event file that receives every record's numbers too (`runtime.tensorboard`).
  public var events: TensorBoardWriter?

  /// Opens the log for appending. `keepingThrough` drops records after that iteration first:
  /// a resumed run rewrites what the interrupted one logged after its last checkpoint.
  public init(url: URL, keepingThrough iteration: Int? = nil) throws {
    self.url = url
    let manager = FileManager.default
    var kept = ""
    if let iteration, manager.fileExists(atPath: url.path) {
      for record in try Self.read(url) where record["iteration"] as? Int ?? 0 <= iteration { kept += try Self.line(record) }
    }
    try Data(kept.utf8).write(to: url, options: .atomic)
    do {
      handle = try FileHandle(forWritingTo: url)
      try handle.seekToEnd()
    } catch {
      throw EngineError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }

  deinit { try? handle.close() }

  public func append(_ record: [String: Any]) throws {
    try handle.write(contentsOf: Data(Self.line(record).utf8))
    if let events, let iteration = record["iteration"] as? Int {
      try events.addScalars(Self.scalars(of: record), step: iteration)
    }
  }

  /// A record's numbers by TensorBoard tag: its keys, nested ones joined by `/`
  /// (`eval/bbox/AP`); `iteration`, the step, left out.
  static func scalars(of record: [String: Any], prefix: String = "") -> [(tag: String, value: Double)] {
    record.keys.sorted().flatMap { key -> [(tag: String, value: Double)] in
      let tag = prefix + key
      switch record[key] {
      case let nested as [String: Any]: return scalars(of: nested, prefix: tag + "/")
      case let nested as [String: Double]: return scalars(of: nested, prefix: tag + "/")
      case let nested as [String: [String: Double]]: return scalars(of: nested, prefix: tag + "/")
      case let value as Int where key != "iteration": return [(tag, Double(value))]
      case let value as Double: return [(tag, value)]
      default: return []
      }
    }
  }

  /// Every record of a metrics file, in order; lines that are not JSON objects (a line cut short
  /// by a kill) are left out.
  public static func read(_ url: URL) throws -> [[String: Any]] {
    let text: String
    do {
      text = try String(contentsOf: url, encoding: .utf8)
    } catch {
      throw EngineError("cannot read \(url.path): \(error.localizedDescription)")
    }
    return text.split(separator: "\n").compactMap { line in
      (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
  }

  static func line(_ record: [String: Any]) throws -> String {
    // Non-finite numbers are not JSON; they are written as null.
    let clean = record.mapValues { value -> Any in
      if let d = value as? Double, !d.isFinite { return NSNull() }
      return value
    }
    let data = try JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
