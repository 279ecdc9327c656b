import Foundation
import Testing

@testable import Data

/// The line formats (and Cityscapes' JSON files, damaged line by line too) under random damage (lines dropped, repeated or swapped, fields replaced
/// by junk, huge or negative numbers, bytes flipped): reading must end in a dataset or a typed
/// error, never a crash. Seeded, so a failure repeats.
@Suite struct ConverterFuzzTests {
  static let junk = ["", "x", "-1", "0", "1e308", "-1e308", "nan", "9223372036854775807", "99999999999999999999", "{", "]", "\"", "\u{0}", "é"]

  static func damaged(_ text: String, random: inout SeededRandom) -> Data {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for _ in 0..<Int.random(in: 1...3, using: &random) where !lines.isEmpty {
      let i = Int.random(in: 0..<lines.count, using: &random)
      switch Int.random(in: 0..<5, using: &random) {
      case 0: lines.remove(at: i)
      case 1: lines.insert(lines[i], at: i)
      case 2: lines.swapAt(i, Int.random(in: 0..<lines.count, using: &random))
      case 3:
        var fields = lines[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        fields[Int.random(in: 0..<fields.count, using: &random)] = junk.randomElement(using: &random) ?? ""
        lines[i] = fields.joined(separator: " ")
      default:
        var bytes = Array(lines[i].utf8)
        if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
        lines[i] = String(decoding: bytes, as: UTF8.self)
      }
    }
    return Data(lines.joined(separator: "\n").utf8)
  }

  @Test(arguments: [
    ("kitti", "training/label_2/000000.txt"), ("kitti", "training/label_2/000001.txt"),
    ("wider_face", "wider_face_split/wider_face_train_bbx_gt.txt"), ("crowdhuman", "annotation_train.odgt"),
    ("cityscapes", "gtFine/train/aachen/aachen_000000_000019_gtFine_polygons.json"), ("dota", "train/labelTxt/P0001.txt"),
    ("deeplesion", "DL_info.csv"),
  ])
  func damagedFilesNeverCrash(_ fixture: String, _ file: String) throws {
    let root = try converterFixture(fixture)
    defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
    let url = root.appendingPathComponent(file)
    let original = try String(contentsOf: url, encoding: .utf8)
    var random = SeededRandom(seed: 22)
    let format = DatasetFormat.detect(annotations: root)
    var outcomes = (read: 0, refused: 0)
    for _ in 0..<150 {
      try Self.damaged(original, random: &random).write(to: url)
      for policy in BadDataPolicy.allCases {
        do {
          if format == .deeplesion {
            _ = try DeepLesionReader.convert(annotations: root, output: root.appendingPathComponent("slices"), policy: policy)
          } else {
            _ = try format?.read(annotations: root, images: nil, imageSet: nil, policy: policy)
          }
          outcomes.read += 1
        } catch is DatasetFormatError, is DataValidationError {
          outcomes.refused += 1
        }
      }
    }
    #expect(format != nil && outcomes.read > 0 && outcomes.refused > 0, "\(outcomes)")
  }
}
