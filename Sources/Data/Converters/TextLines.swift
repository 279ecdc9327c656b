import Foundation

/// A text annotation file as numbered lines (1-based, as editors count), for the line formats
/// (KITTI labels, WiderFace's box lists, CrowdHuman's JSON lines). `\r\n` endings are accepted.
struct TextLines {
  let file: String
  let lines: [Substring]

  init(contentsOf url: URL) throws {
    let data = try readAnnotationFile(url)
    guard let text = String(data: data, encoding: .utf8) else {
      throw DatasetFormatError(file: url.path, message: "not UTF-8 text")
    }
    file = url.path
    // "\r\n" is one Character in Swift, so both endings are separators.
    lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
  }

  /// The whitespace-separated fields of a line.
  static func fields(_ line: Substring) -> [Substring] {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" })
  }

  /// Whether a line holds nothing but whitespace.
  static func isBlank(_ line: Substring) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }
}
