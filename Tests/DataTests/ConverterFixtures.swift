import Foundation

@testable import Data

/// A copy of `Fixtures/<name>` (KITTI, WiderFace or CrowdHuman layouts, labels written by hand)
/// in a fresh temporary folder, with the images its `images.txt` lists (`path width height`)
/// drawn there as flat gray PNG or JPEG files: the labels carry no sizes, so the readers read
/// them from these headers.
func converterFixture(_ name: String) throws -> URL {
  let root = try temporaryFolder(name)
  let copy = root.appendingPathComponent(name)
  try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: copy)
  let list = try String(contentsOf: copy.appendingPathComponent("images.txt"), encoding: .utf8)
  for line in list.split(separator: "\n") {
    let fields = line.split(separator: " ")
    guard fields.count == 3, let width = Int(fields[1]), let height = Int(fields[2]) else { continue }
    let url = copy.appendingPathComponent(String(fields[0]))
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    let image = Image(width: width, height: height, filledWith: [128, 128, 128])
    try ImageCodec.encode(image, as: url.pathExtension == "png" ? .png : .jpeg).write(to: url)
  }
  return copy
}
