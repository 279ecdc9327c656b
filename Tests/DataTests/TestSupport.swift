import Foundation

/// A fresh folder under the system's temporary directory, removed by the caller.
func temporaryFolder(_ name: String = #function) throws -> URL {
  let clean = name.filter { $0.isLetter || $0.isNumber }
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-data-\(clean)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// The committed fixtures next to this file (located through #filePath: no SwiftPM resources).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func data(_ text: String) -> Data { Data(text.utf8) }
