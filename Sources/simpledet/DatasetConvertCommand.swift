import ArgumentParser
import Data
import Foundation

extension CrowdHumanReader.BoxKind: ExpressibleByArgument {}
extension DOTAReader.Version: ExpressibleByArgument {}

extension DeepLesionReader.Window: ExpressibleByArgument {
  /// `dicom`, or `LOW,HIGH` in Hounsfield units.
  public init?(argument: String) {
    if argument == "dicom" {
      self = .dicom
      return
    }
    let ends = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard ends.count == 2, let low = ends[0], let high = ends[1], low.isFinite, high.isFinite, low < high else { return nil }
    self = .fixed(low: low, high: high)
  }
}

extension DatasetCommand {
  /// `simpledet dataset convert`: any format SimpleDet reads, written as a COCO instances file.
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a dataset (KITTI, WiderFace, CrowdHuman, Cityscapes, DOTA, DeepLesion, Kitchen, VOC, ...) to a COCO JSON file.",
      discussion: """
        Reads the annotations with the format's reader and writes COCO JSON: image file names \
        relative to the image folder (--images, or the format's own), the format's categories, \
        and ignore regions (KITTI DontCare, WiderFace invalid faces, CrowdHuman masks and ignored \
        boxes, Cityscapes groups, DOTA difficult objects) as iscrowd annotations. With --tile-size, \
        DOTA's images are cut into overlapping patches as DOTA_devkit's ImgSplit cuts them, \
        written with their labels under --tile-out. DeepLesion's 16-bit key slices are windowed \
        to 8-bit PNGs under --images-out. Prints the images, the instances per class \
        and, with --on-error skip (the default), the problems left out; with --on-error fail the \
        first problem stops the conversion. See docs/datasets.md for each format's layout.
        """)

    @Option(name: .customLong("from"), help: "kitti, wider-face, crowdhuman, cityscapes, dota, deeplesion or kitchen (also coco, voc, light-json).")
    var format: DatasetFormat

    @Option(help: ArgumentHelp(
      "KITTI: the folder holding label_2/ (training/) or its parent; WiderFace: the folder holding wider_face_split/, or a *_bbx_gt.txt file; CrowdHuman: the folder holding annotation_*.odgt, or an .odgt file; Cityscapes: the folder holding gtFine/ and leftImg8bit/; DOTA: the folder holding labelTxt/ and images/ (or train/ and val/); DeepLesion: DL_info.csv or its folder; Kitchen: the folder holding Annotations/, JPEGImages/ and ImageSets/Main/.",
      valueName: "path"))
    var input: String

    @Option(help: ArgumentHelp("The COCO JSON file to write.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp(
      "The image folder; written file names are relative to it (default: KITTI image_2/, WiderFace WIDER_<split>/images/, CrowdHuman Images/, Cityscapes leftImg8bit/<split>/, DOTA images/; DeepLesion: the 16-bit slices, default Images_png/ beside DL_info.csv; Kitchen JPEGImages/).",
      valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp(
      "WiderFace and CrowdHuman: train or val when --input is the dataset's folder (default: train); Cityscapes: train, val or test (default: train); DOTA: the sub-folder when --input holds train/ and val/ (default: train); DeepLesion: train, val, test or all (Train_Val_Test; default: train); Kitchen: train, test or all (default: train); KITTI: an id list, ImageSets/<name>.txt or a path (default: every label file); VOC: the image set (default: trainval).",
      valueName: "name"))
    var split: String?

    @Option(name: .customLong("on-error"), help: "skip: leave bad records out and count them; fail: stop at the first problem.")
    var onError: BadDataPolicy = .skip

    @Option(name: .customLong("kitti-classes"), help: ArgumentHelp(
      "KITTI: the classes in label order, comma-separated; 'Car+Van' makes one class Car that takes vans too; types not listed are left out (default: all 8 types).",
      valueName: "list"))
    var kittiClasses: String?

    @Option(name: .customLong("crowdhuman-box"), help: "CrowdHuman: fbox (full body, the default), vbox (visible region) or hbox (head).")
    var crowdhumanBox: CrowdHumanReader.BoxKind?

    @Option(name: .customLong("dota-version"), help: "DOTA: the release whose classes to read, 1.0 (15 classes, the default), 1.5 (16) or 2.0 (18).")
    var dotaVersion: DOTAReader.Version?

    @Option(name: .customLong("tile-size"), help: ArgumentHelp("DOTA: cut the images into square patches of this many pixels (ImgSplit's subsize).", valueName: "pixels"))
    var tileSize: Int?

    @Option(name: .customLong("tile-overlap"), help: ArgumentHelp("DOTA: pixels shared by neighbouring patches (ImgSplit's gap).", valueName: "pixels"))
    var tileOverlap: Int = 200

    @Option(name: .customLong("tile-threshold"), help: ArgumentHelp("DOTA: a cut object whose part in a patch has at most this fraction of its area is an ignore region there (ImgSplit's thresh).", valueName: "fraction"))
    var tileThreshold: Double = 0.7

    @Option(name: .customLong("tile-out"), help: ArgumentHelp("DOTA with --tile-size: the folder the patches are written to, as images/ and labelTxt/; the COCO file names them relative to its images/.", valueName: "dir"))
    var tileOut: String?

    @Option(name: .customLong("images-out"), help: ArgumentHelp("DeepLesion: the folder the windowed 8-bit key slices are written to, named by File_name; the COCO file names them relative to it.", valueName: "dir"))
    var imagesOut: String?

    @Option(help: ArgumentHelp("DeepLesion: the Hounsfield range mapped to 0-255, 'dicom' (each slice's DICOM_windows, the default) or LOW,HIGH such as --window=-1024,3071 (with '=', since the value starts with '-').", valueName: "window"))
    var window: DeepLesionReader.Window?

    func validate() throws {
      if format == .deeplesion, imagesOut == nil { throw ValidationError("--from deeplesion needs --images-out: the folder for the windowed 8-bit slices") }
      if imagesOut != nil || window != nil, format != .deeplesion { throw ValidationError("--images-out and --window are for --from deeplesion") }
      if dotaVersion != nil, format != .dota { throw ValidationError("--dota-version is for --from dota") }
      if tileSize != nil || tileOut != nil {
        guard format == .dota else { throw ValidationError("--tile-size and --tile-out are for --from dota") }
        guard let tileSize, tileOut != nil else { throw ValidationError("--tile-size and --tile-out go together") }
        if let problem = DOTATiling(size: tileSize, overlap: tileOverlap, threshold: tileThreshold).problem {
          throw ValidationError("--tile-size, --tile-overlap, --tile-threshold: \(problem)")
        }
      }
      if kittiClasses != nil, format != .kitti { throw ValidationError("--kitti-classes is for --from kitti") }
      if crowdhumanBox != nil, format != .crowdHuman { throw ValidationError("--crowdhuman-box is for --from crowdhuman") }
      if let classes = classList {
        do {
          _ = try KITTIClassMap(classes)
        } catch {
          throw ValidationError("--kitti-classes: \(error)")
        }
      }
    }

    private var classList: [String]? {
      kittiClasses.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func run() throws {
      var dataset: Dataset
      do {
        if format == .deeplesion, let imagesOut {
          dataset = try DeepLesionReader.convert(
            annotations: URL(fileURLWithPath: input), slices: images.map { URL(fileURLWithPath: $0) }, split: split, window: window ?? .dicom,
            output: URL(fileURLWithPath: imagesOut), policy: onError)
          print("windowed \(dataset.records.count) key slices to 8 bits under \(imagesOut)")
        } else {
          dataset = try format.read(
            annotations: URL(fileURLWithPath: input), images: images.map { URL(fileURLWithPath: $0) }, classes: classList,
            imageSet: split ?? (format == .voc ? "trainval" : nil), policy: onError, crowdHumanBox: crowdhumanBox ?? .full,
            dotaVersion: dotaVersion ?? .v1_0)
        }
        if let tileSize, let tileOut {
          let tiling = DOTATiling(size: tileSize, overlap: tileOverlap, threshold: tileThreshold)
          let source = dataset.records.count
          dataset = try DOTAReader.tile(dataset, tiling: tiling, output: URL(fileURLWithPath: tileOut), policy: onError)
          print("cut \(source) images into \(dataset.records.count) patches of \(tileSize) pixels (overlap \(tileOverlap)) under \(tileOut)")
        }
      } catch let error as DataValidationError {
        // Under fail: the first problem, on one line.
        let more = error.issues.count > 1 ? " (1 of \(error.issues.count) problems)" : ""
        throw fail(ConvertFailure("\(error.issues.first.map(String.init(describing:)) ?? "\(error)")\(more); --on-error skip converts without them"))
      } catch {
        throw fail(error)
      }
      do {
        let json = try COCOWriter.encode(records: dataset.records, metadata: dataset.metadata)
        let url = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try json.write(to: url, options: .atomic)
      } catch {
        throw fail(ConvertFailure("\(out): cannot write the COCO file (\(error.localizedDescription))"))
      }
      report(dataset)
    }

    private func report(_ dataset: Dataset) {
      let stats = DatasetStatistics(dataset)
      let objects = stats.instanceCount - stats.crowdCount
      print("wrote \(out): \(stats.imageCount) images (\(stats.imagesWithoutInstances) without instances), \(objects) instances (\(stats.difficultCount) difficult), \(stats.crowdCount) ignore regions")
      var ignorePerClass = [Int](repeating: 0, count: dataset.metadata.classCount)
      for instance in dataset.records.flatMap(\.instances) where instance.isCrowd && ignorePerClass.indices.contains(instance.label) {
        ignorePerClass[instance.label] += 1
      }
      let width = max(dataset.metadata.classNames.map(\.count).max() ?? 0, 4)
      print("classes \(dataset.metadata.classCount):")
      for (label, category) in dataset.metadata.categories.enumerated() {
        let name = category.name.padding(toLength: width, withPad: " ", startingAt: 0)
        print("  id \(category.id)  \(name)  \(stats.instancesPerClass[label] - ignorePerClass[label]) instances, \(ignorePerClass[label]) ignore regions")
      }
      if case .folder(let folder) = dataset.imageSource { print("image file names are relative to \(folder.path)") }
      let issues = dataset.issues
      if !issues.isEmpty {
        let order = DataIssue.Kind.allCases
        let byKind = Dictionary(grouping: issues, by: \.kind).sorted { (order.firstIndex(of: $0.key) ?? 0) < (order.firstIndex(of: $1.key) ?? 0) }
        let images = Set(issues.filter(\.dropsImage).map(\.record)).count
        print("skipped \(issues.count) problem\(issues.count == 1 ? "" : "s") (\(images) image\(images == 1 ? "" : "s") left out): " + byKind.map { "\($0.value.count) \($0.key.rawValue)" }.joined(separator: ", "))
        for issue in issues.prefix(20) { print("  \(issue)") }
        if issues.count > 20 { print("  ... and \(issues.count - 20) more") }
      }
    }
  }
}

/// A conversion failure, already worded as one line.
private struct ConvertFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
