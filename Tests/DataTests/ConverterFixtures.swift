import Foundation

@testable import Data

/// A copy of `Fixtures/<name>` (a dataset's layout, labels written by hand) in a fresh temporary
/// folder, with the images its `images.txt` lists (`path width height`) drawn there as flat gray
/// PNG or JPEG files: most labels carry no sizes, so the readers read them from these headers.
/// A line `path width height 16 value` draws a 16-bit gray PNG filled with `value` (DeepLesion's
/// CT slices).
func converterFixture(_ name: String) throws -> URL {
  let root = try temporaryFolder(name)
  let copy = root.appendingPathComponent(name)
  try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: copy)
  try drawFixtureImages(in: copy)
  return copy
}

/// Draws the images `folder/images.txt` lists.
func drawFixtureImages(in folder: URL) throws {
  let list = try String(contentsOf: folder.appendingPathComponent("images.txt"), encoding: .utf8)
  for line in list.split(separator: "\n") {
    let fields = line.split(separator: " ")
    guard fields.count == 3 || fields.count == 5, let width = Int(fields[1]), let height = Int(fields[2]) else { continue }
    let url = folder.appendingPathComponent(String(fields[0]))
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    if fields.count == 5, fields[3] == "16", let value = UInt16(fields[4]) {
      let slice = Image16(width: width, height: height, channels: 1, samples: Array(repeating: value, count: width * height))
      try ImageCodec.encodePNG16(slice).write(to: url)
      continue
    }
    let image = Image(width: width, height: height, filledWith: [128, 128, 128])
    try ImageCodec.encode(image, as: url.pathExtension == "png" ? .png : .jpeg).write(to: url)
  }
}
