import Data
import Foundation
import Testing

/// `simpledet dataset convert` on the KITTI, WiderFace, CrowdHuman and Cityscapes fixtures of
/// DataTests (their odd cases are described there), then `dataset check` and `stats` on the COCO
/// files written.
@Suite struct DatasetConvertTests {
  /// The fixture copied into `folder` with the gray images its images.txt lists (`path width
  /// height`, or `path width height 16 value` for a 16-bit slice).
  static func fixture(_ name: String, in folder: ScratchFolder) throws -> URL {
    let copy = folder.path(name)
    try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Tests/DataTests/Fixtures/\(name)"), to: copy)
    for line in try String(contentsOf: copy.appendingPathComponent("images.txt"), encoding: .utf8).split(separator: "\n") {
      let f = line.split(separator: " ")
      guard f.count == 3 || f.count == 5, let width = Int(f[1]), let height = Int(f[2]) else { continue }
      let url = copy.appendingPathComponent(String(f[0]))
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if f.count == 5, f[3] == "16", let value = UInt16(f[4]) {
        // A 16-bit gray slice (DeepLesion).
        let slice = Image16(width: width, height: height, channels: 1, samples: Array(repeating: value, count: width * height))
        try ImageCodec.encodePNG16(slice).write(to: url)
        continue
      }
      try ImageCodec.encode(Image(width: width, height: height, filledWith: [90]), as: url.pathExtension == "png" ? .png : .jpeg).write(to: url)
    }
    return copy
  }

  struct Case: CustomTestStringConvertible, Sendable {
    var fixture: String
    var arguments: [String]
    var images: String
    var summary: String
    var categories: [String]
    /// Annotations written, and how many of them are iscrowd.
    var annotations: Int
    var crowd: Int
    /// The category ids written (nil: 1, 2, ... in order).
    var ids: [Int]? = nil
    /// Annotations written with a polygon mask.
    var polygons = 0
    var testDescription: String { "\(fixture) \(arguments.dropFirst(2).joined(separator: " "))" }
  }

  static let cases = [
    // 3 + 8 DontCare copies in 000000, 3 in 000001; 5 problems (4 lines, 1 missing image).
    Case(fixture: "kitti", arguments: ["--from", "kitti", "--input", "kitti"], images: "kitti/training/image_2",
         summary: "3 images (1 without instances), 6 instances (2 difficult), 8 ignore regions",
         categories: ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc"], annotations: 14, crowd: 8),
    Case(fixture: "kitti", arguments: ["--from", "kitti", "--input", "kitti/training", "--kitti-classes", "Car+Van,Pedestrian+Person_sitting,Cyclist", "--split", "val"],
         images: "kitti/training/image_2", summary: "2 images (1 without instances), 2 instances (1 difficult), 0 ignore regions",
         categories: ["Car", "Pedestrian", "Cyclist"], annotations: 2, crowd: 0),
    Case(fixture: "wider_face", arguments: ["--from", "wider-face", "--input", "wider_face", "--split", "train"], images: "wider_face/WIDER_train/images",
         summary: "3 images (1 without instances), 2 instances (0 difficult), 1 ignore regions", categories: ["face"], annotations: 3, crowd: 1),
    Case(fixture: "crowdhuman", arguments: ["--from", "crowdhuman", "--input", "crowdhuman/annotation_train.odgt", "--crowdhuman-box", "hbox"],
         images: "crowdhuman/Images", summary: "3 images (2 without instances), 1 instances (0 difficult), 3 ignore regions",
         categories: ["person"], annotations: 4, crowd: 3),
    // train: a car, a person, a rider, a clipped bus and a motorcycle, a cargroup and a
    // bicyclegroup; 3 of 6 images left out. val: a person and a persongroup.
    Case(fixture: "cityscapes", arguments: ["--from", "cityscapes", "--input", "cityscapes"], images: "cityscapes/leftImg8bit/train",
         summary: "3 images (1 without instances), 5 instances (0 difficult), 2 ignore regions", categories: cityscapesClasses,
         annotations: 7, crowd: 2, ids: [24, 25, 26, 27, 28, 31, 32, 33], polygons: 7),
    Case(fixture: "cityscapes", arguments: ["--from", "cityscapes", "--input", "cityscapes", "--split", "val", "--on-error", "fail"],
         images: "cityscapes/leftImg8bit/val", summary: "1 images (0 without instances), 1 instances (0 difficult), 1 ignore regions",
         categories: cityscapesClasses, annotations: 2, crowd: 1, ids: [24, 25, 26, 27, 28, 31, 32, 33], polygons: 2),
    // P0001: a plane, a difficult ship, a clipped small vehicle, a large vehicle; P0002 a tennis
    // court; P0004 a helicopter; 6 problems (5 lines, 1 missing image). With v1.5 the container
    // crane is read too.
    Case(fixture: "dota", arguments: ["--from", "dota", "--input", "dota"], images: "dota/train/images",
         summary: "3 images (0 without instances), 5 instances (0 difficult), 1 ignore regions", categories: dotaClasses,
         annotations: 6, crowd: 1, polygons: 6),
    Case(fixture: "dota", arguments: ["--from", "dota", "--input", "dota/train", "--dota-version", "1.5"], images: "dota/train/images",
         summary: "3 images (0 without instances), 6 instances (0 difficult), 1 ignore regions", categories: dotaClasses + ["container-crane"],
         annotations: 7, crowd: 1, polygons: 7),
    // 80-pixel patches overlapping by 40 (see DOTAReaderTests): 2 patches of P0001 with 3 objects
    // each (the ship twice as an ignore region, the cut large vehicle once), 1 of P0002 and P0004.
    Case(fixture: "dota", arguments: ["--from", "dota", "--input", "dota", "--tile-size", "80", "--tile-overlap", "40", "--tile-out", "split"],
         images: "split/images", summary: "4 images (0 without instances), 5 instances (0 difficult), 3 ignore regions",
         categories: dotaClasses, annotations: 8, crowd: 3, polygons: 8),
    // Train key slices: 000001 (two lesions) and 000002; 6 problems (3 rows, a missing slice, a
    // reversed DICOM window, a size mismatch). A fixed window converts 000008 too.
    Case(fixture: "deeplesion", arguments: ["--from", "deeplesion", "--input", "deeplesion", "--images-out", "slices8"], images: "slices8",
         summary: "2 images (0 without instances), 3 instances (0 difficult), 0 ignore regions", categories: ["lesion"], annotations: 3, crowd: 0),
    Case(fixture: "deeplesion", arguments: ["--from", "deeplesion", "--input", "deeplesion/DL_info.csv", "--images-out", "slices8", "--window=-1000,1040"],
         images: "slices8", summary: "3 images (0 without instances), 4 instances (0 difficult), 0 ignore regions", categories: ["lesion"],
         annotations: 4, crowd: 0),
    // Train: 0 (two products), 1 (a difficult one) and 6 (none); 5 problems. Test: a clipped box.
    Case(fixture: "kitchen", arguments: ["--from", "kitchen", "--input", "kitchen"], images: "kitchen/JPEGImages",
         summary: "3 images (1 without instances), 3 instances (1 difficult), 0 ignore regions", categories: KitchenReader.classNames,
         annotations: 3, crowd: 0),
    Case(fixture: "kitchen", arguments: ["--from", "kitchen", "--input", "kitchen", "--split", "test"], images: "kitchen/JPEGImages",
         summary: "1 images (0 without instances), 1 instances (0 difficult), 0 ignore regions", categories: KitchenReader.classNames,
         annotations: 1, crowd: 0),
  ]
  static let dotaClasses = [
    "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle", "ship", "tennis-court",
    "basketball-court", "storage-tank", "soccer-ball-field", "roundabout", "harbor", "swimming-pool", "helicopter",
  ]
  static let cityscapesClasses = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]

  @Test(arguments: cases)
  func convertsThenChecks(_ c: Case) throws {
    let folder = try ScratchFolder()
    _ = try Self.fixture(c.fixture, in: folder)
    let converted = try CommandLineRunner.run(["dataset", "convert"] + c.arguments + ["--out", "out/coco.json"], in: folder.url)
    try #require(converted.status == 0, "\(converted.errors)")
    #expect(converted.output.contains("wrote out/coco.json: \(c.summary)"), "\(converted.output)")
    #expect(converted.output.contains("image file names are relative to"))

    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("out/coco.json"))) as? [String: Any])
    let categories = try #require(json["categories"] as? [[String: Any]])
    #expect(categories.compactMap { $0["name"] as? String } == c.categories)
    #expect(categories.compactMap { $0["id"] as? Int } == c.ids ?? Array(1...c.categories.count))
    let annotations = try #require(json["annotations"] as? [[String: Any]])
    #expect(annotations.count == c.annotations)
    #expect(annotations.filter { $0["iscrowd"] as? Int == 1 }.count == c.crowd)
    #expect(annotations.filter { $0["segmentation"] is [Any] }.count == c.polygons)

    let location = ["--annotations", "out/coco.json", "--images", c.images]
    let check = try CommandLineRunner.run(["dataset", "check"] + location, in: folder.url)
    #expect(check.status == 0, "\(check.output)\(check.errors)")
    #expect(check.output.contains("no problems"), "\(check.output)")
    let stats = try CommandLineRunner.run(["dataset", "stats"] + location, in: folder.url)
    #expect(stats.status == 0 && stats.output.contains("crowd"), "\(stats.errors)")
  }

  @Test func skipReportsProblemsAndFailStopsAtTheFirstOnOneLine() throws {
    let folder = try ScratchFolder()
    let kitti = try Self.fixture("kitti", in: folder)
    let skipped = try CommandLineRunner.run(["dataset", "convert", "--from", "kitti", "--input", "kitti", "--out", "a.json"], in: folder.url)
    #expect(skipped.status == 0)
    #expect(skipped.output.contains(
      "skipped 5 problems (1 image left out): 1 missing image, 1 box with non-positive width or height, 1 box outside the image, 1 unknown category, 1 invalid record"),
      "\(skipped.output)")
    #expect(skipped.output.contains("000001.txt: line 3: unknown category: 'Bus' is not a KITTI object type"))

    let failed = try CommandLineRunner.run(
      ["dataset", "convert", "--from", "kitti", "--input", "kitti", "--out", "b.json", "--on-error", "fail"], in: folder.url)
    #expect(failed.status == 1)
    #expect(failed.errors == "error: \(kitti.path)/training/label_2/000001.txt: line 3: unknown category: 'Bus' is not a KITTI object type (Car, Van, Truck, Pedestrian, Person_sitting, Cyclist, Tram, Misc or DontCare) (1 of 5 problems); --on-error skip converts without them\n")
    #expect(!folder.exists("b.json"))
  }

  @Test(arguments: [
    (["--from", "kitti", "--input", "nowhere"], 1, "nowhere: no label_2 folder"),
    (["--from", "wider-face", "--input", "nowhere.txt"], 1, "nowhere.txt: no such file or folder"),
    (["--from", "crowdhuman", "--input", "bad.odgt", "--images", "."], 1, "bad.odgt: line 1: invalid record: malformed JSON"),
    (["--from", "kitti", "--input", "x", "--kitti-classes", "Car,Bus"], 64, "--kitti-classes: 'Bus' in 'Bus' is not a KITTI object type"),
    (["--from", "wider-face", "--input", "x", "--crowdhuman-box", "vbox"], 64, "--crowdhuman-box is for --from crowdhuman"),
    (["--from", "cityscapes", "--input", "nowhere"], 1, "nowhere: no gtFine/train folder"),
    (["--from", "dota", "--input", "nowhere"], 1, "nowhere: no labelTxt folder"),
    (["--from", "dota", "--input", "x", "--tile-size", "100", "--tile-overlap", "100", "--tile-out", "t"], 64,
     "--tile-size, --tile-overlap, --tile-threshold: the overlap must be at least 0 and below the patch size (100), not 100"),
    (["--from", "dota", "--input", "x", "--tile-size", "100"], 64, "--tile-size and --tile-out go together"),
    (["--from", "kitti", "--input", "x", "--dota-version", "1.5"], 64, "--dota-version is for --from dota"),
    (["--from", "deeplesion", "--input", "x"], 64, "--from deeplesion needs --images-out"),
    (["--from", "deeplesion", "--input", "nowhere.csv", "--images-out", "o"], 1, "nowhere.csv: cannot read the annotation file"),
    (["--from", "deeplesion", "--input", "x", "--images-out", "o", "--window", "5,1"], 64, "--window"),
    (["--from", "coco", "--input", "x", "--images-out", "o"], 64, "--images-out and --window are for --from deeplesion"),
    (["--from", "kitchen", "--input", "nowhere"], 1, "nowhere/ImageSets/Main/train.txt: no such image-set list"),
  ])
  func badInputsEndWithOneLine(_ arguments: [String], _ status: Int32, _ named: String) throws {
    let folder = try ScratchFolder()
    try folder.write("bad.odgt", "{\"ID\": \n")
    let result = try CommandLineRunner.run(["dataset", "convert"] + arguments + ["--out", "o.json", "--on-error", "fail"], in: folder.url)
    #expect(result.status == status)
    let first = result.errors.split(separator: "\n").first.map(String.init) ?? ""
    #expect(first.contains(named), "\(result.errors)")
    if status == 1 { #expect(result.errors.filter { $0 == "\n" }.count == 1, "\(result.errors)") }
  }

  /// DeepLesion's spacing and lesion types reach the COCO file as attributes; under fail the first
  /// problem is one line naming DL_info.csv and the row.
  @Test func deepLesionKeepsSpacingAndLesionTypeAsAttributes() throws {
    let folder = try ScratchFolder()
    let root = try Self.fixture("deeplesion", in: folder)
    let result = try CommandLineRunner.run(
      ["dataset", "convert", "--from", "deeplesion", "--input", "deeplesion", "--images-out", "slices8", "--out", "dl.json"], in: folder.url)
    try #require(result.status == 0, "\(result.errors)")
    #expect(result.output.contains("windowed 2 key slices to 8 bits under slices8"), "\(result.output)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("dl.json"))) as? [String: Any])
    let image = try #require((json["images"] as? [[String: Any]])?.first)
    #expect(image["file_name"] as? String == "000001_01_01_109.png")
    let imageAttributes = try #require(image["attributes"] as? [String: Any])
    #expect(imageAttributes["spacing_mm_px"] as? [Double] == [0.488281, 0.488281, 5])
    #expect(imageAttributes["hu_window"] as? [Double] == [-175, 275])
    let annotation = try #require((json["annotations"] as? [[String: Any]])?.first)
    #expect(annotation["bbox"] as? [Double] == [2, 1, 8, 8])
    let lesion = try #require(annotation["attributes"] as? [String: Any])
    #expect(lesion["lesion_type_name"] as? String == "mediastinum" && lesion["lesion_type"] as? Double == 3)

    let failed = try CommandLineRunner.run(
      ["dataset", "convert", "--from", "deeplesion", "--input", "deeplesion", "--images-out", "slices8", "--out", "f.json", "--on-error", "fail"],
      in: folder.url)
    #expect(failed.status == 1)
    #expect(failed.errors == "error: \(root.path)/DL_info.csv: line 8: invalid record: Bounding_boxes is '5, 5, five, 9', expected 4 numbers (1 of 6 problems); --on-error skip converts without them\n")
    #expect(!folder.exists("f.json"))
  }

  /// Configs read the original files too: a few training steps and the final evaluation on the
  /// KITTI fixture through data.kind kitti, with vans as cars.
  @Test func trainsOnKITTIThroughAConfig() throws {
    let folder = try ScratchFolder()
    _ = try Self.fixture("kitti", in: folder)
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let result = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run", "--set", "data.kind=kitti", "--set", "data.classes=[Car+Van, Pedestrian, Cyclist]",
       "--set", "data.train={annotations: kitti, image_set: null}", "--set", "data.test={annotations: kitti/training, image_set: val}"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(folder.exists("run/eval.json"), "\(result.output)")
  }

  /// The new kinds train from a config too: Cityscapes' polygons and group regions (val split
  /// for the evaluation), and DOTA's patches written by convert.
  @Test func trainsOnCityscapesAndDOTAPatchesThroughConfigs() throws {
    let folder = try ScratchFolder()
    _ = try Self.fixture("cityscapes", in: folder)
    _ = try Self.fixture("dota", in: folder)
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let cityscapes = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run_cityscapes", "--set", "data.kind=cityscapes", "--set", "model.classes=9",
       "--set", "data.train={annotations: cityscapes, image_set: train}", "--set", "data.test={annotations: cityscapes, image_set: val}"],
      in: folder.url)
    #expect(cityscapes.status == 0, "\(cityscapes.errors)")
    #expect(folder.exists("run_cityscapes/eval.json"), "\(cityscapes.output)")

    let tiled = try CommandLineRunner.run(
      ["dataset", "convert", "--from", "dota", "--input", "dota", "--tile-size", "48", "--tile-overlap", "16", "--tile-out", "patches", "--out", "patches.json"],
      in: folder.url)
    try #require(tiled.status == 0, "\(tiled.errors)")
    let dota = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "run_dota", "--set", "data.kind=dota", "--set", "model.classes=16",
       "--set", "data.train={annotations: patches, image_set: null}", "--set", "data.test={annotations: patches, image_set: null}"],
      in: folder.url)
    #expect(dota.status == 0, "\(dota.errors)")
    #expect(folder.exists("run_dota/eval.json"), "\(dota.output)")
  }
}
