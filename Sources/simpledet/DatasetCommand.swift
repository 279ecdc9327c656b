import ArgumentParser
import Data
import Engine
import Foundation

/// `simpledet dataset`: make the synthetic dataset, check a dataset for problems, count what is in it.
struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset",
    abstract: "Create, check and describe datasets.",
    subcommands: [Synth.self, Convert.self, Check.self, Stats.self]
  )
}

/// The options naming a dataset on disk, shared by `check` and `stats`.
struct DatasetLocation: ParsableArguments {
  @Option(help: ArgumentHelp("The annotation file (COCO, light JSON, WiderFace, CrowdHuman, DeepLesion's DL_info.csv), or a VOC, KITTI, Cityscapes, DOTA or Kitchen folder.", valueName: "path"))
  var annotations: String

  @Option(help: ArgumentHelp("The folder image file names are relative to (default: beside the annotations; VOC: JPEGImages).", valueName: "dir"))
  var images: String?

  @Option(help: "coco, voc, light-json, kitti, wider-face, crowdhuman, cityscapes, dota, deeplesion or kitchen (default: guessed from the file; kitchen is never guessed).")
  var format: DatasetFormat?

  @Option(help: ArgumentHelp("VOC: the class list, comma-separated (default: the 20 Pascal classes).", valueName: "names"))
  var classes: String?

  @Option(name: .customLong("image-set"), help: "VOC: the image-set list under ImageSets/Main (default: trainval; 'all' for every XML file); KITTI: an id list; WiderFace, CrowdHuman, Cityscapes, DOTA, DeepLesion, Kitchen: the split (default: train; DeepLesion and Kitchen 'all' for every row or file).")
  var imageSet: String?

  /// The dataset, or exit status 1 with one line naming the file and the problem.
  func read() throws -> Dataset {
    do {
      return try readDataset()
    } catch {
      throw fail(error)
    }
  }

  private func readDataset() throws -> Dataset {
    let url = URL(fileURLWithPath: annotations)
    guard let format = format ?? DatasetFormat.detect(annotations: url) else {
      throw DatasetFormatError(file: annotations, message: "no such file or folder")
    }
    let classList = classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    let set = format == .voc ? imageSet ?? "trainval" : imageSet
    return try format.read(
      annotations: url, images: images.map { URL(fileURLWithPath: $0) }, classes: classList,
      imageSet: set == "all" && format != .deeplesion && format != .kitchen ? nil : set, policy: .skip)
  }
}

extension DatasetFormat: ExpressibleByArgument {}
extension BadDataPolicy: ExpressibleByArgument {}
extension ImageFormat: ExpressibleByArgument {}


extension DatasetCommand {
  struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write the synthetic shapes dataset as a COCO folder (images/ and annotations.json).")

    @Option(help: ArgumentHelp("The folder to write.", valueName: "dir"))
    var out: String

    @Option(help: "How many images.")
    var images: Int = 200

    @Option(help: "The seed: the same seed gives the same images.")
    var seed: UInt64 = 0

    @Option(name: .customLong("image-format"), help: "png or jpeg.")
    var imageFormat: ImageFormat = .png

    func validate() throws {
      guard (1...1_000_000).contains(images) else { throw ValidationError("--images must be between 1 and 1000000") }
    }

    func run() throws {
      do {
        let shapes = ShapesDataset(imageCount: images, seed: seed)
        let folder = try OutputFolder.create(out, role: "the dataset folder")
        let annotations = try shapes.exportCOCO(to: folder, imageFormat: imageFormat)
        let stats = DatasetStatistics(shapes.dataset)
        print("wrote \(images) images with \(stats.instanceCount) shapes to \(out) (annotations: \(annotations.path))")
      } catch {
        throw fail(error)
      }
    }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Report every problem in a dataset, by file and record.",
      discussion: """
        Finds malformed JSON/XML, boxes with non-positive width or height or outside the image, \
        unknown category ids, duplicate ids, and missing, unreadable, corrupt or wrong-size images. \
        With --policy fail (the default) any problem gives exit status 1; with --policy skip \
        they are warnings and the command says what training would drop.
        """)

    @OptionGroup var location: DatasetLocation

    @Option(help: "fail: problems are errors; skip: warnings, the bad records are dropped.")
    var policy: BadDataPolicy = .fail

    @Flag(help: "Read only image headers (fast; misses truncated image data).")
    var quick = false

    @Option(help: "Threads reading images.")
    var threads: Int = 2

    func run() throws {
      let dataset = try location.read()
      let checker = DatasetChecker(depth: quick ? .headers : .full, threadCount: threads)
      let issues = checker.issues(in: dataset)
      let label = policy == .fail ? "error" : "warning"
      for issue in issues { print("\(label): \(issue)") }
      let instances = dataset.records.reduce(0) { $0 + $1.instances.count }
      print("checked \(dataset.records.count) images, \(instances) instances: ", terminator: "")
      guard !issues.isEmpty else {
        print("no problems")
        return
      }
      let order = DataIssue.Kind.allCases
      let byKind = Dictionary(grouping: issues, by: \.kind).sorted {
        ($0.value.count, order.firstIndex(of: $1.key)!) > ($1.value.count, order.firstIndex(of: $0.key)!)
      }
      print("\(issues.count) problem\(issues.count == 1 ? "" : "s") (" + byKind.map { "\($0.value.count) \($0.key.rawValue)" }.joined(separator: ", ") + ")")
      if policy == .fail { throw ExitCode(1) }
      let dropped = Set(issues.filter(\.dropsImage).map(\.record)).count
      print("with policy skip, training drops \(dropped) image\(dropped == 1 ? "" : "s") and the bad annotations")
    }
  }

  struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Count images, instances per class, sizes and mask coverage.")

    @OptionGroup var location: DatasetLocation

    func run() throws {
      let dataset = try location.read()
      let s = DatasetStatistics(dataset)
      print("images \(s.imageCount) (\(s.landscapeCount) landscape, \(s.imageCount - s.landscapeCount) portrait, \(s.imagesWithoutInstances) without instances)")
      if let widths = s.widths, let heights = s.heights {
        print("widths \(widths.lowerBound)...\(widths.upperBound), heights \(heights.lowerBound)...\(heights.upperBound)")
      }
      print("instances \(s.instanceCount) (\(s.crowdCount) crowd, \(s.difficultCount) difficult, \(s.maskedCount) with masks)")
      print("box sizes: \(s.smallCount) small (< 32²), \(s.mediumCount) medium, \(s.largeCount) large (> 96²)")
      print("classes \(dataset.metadata.classCount):")
      let width = dataset.metadata.classNames.map(\.count).max() ?? 0
      for (label, category) in dataset.metadata.categories.enumerated() {
        let name = category.name.padding(toLength: max(width, 4), withPad: " ", startingAt: 0)
        print("  \(label)  \(name)  id \(category.id)  \(s.instancesPerClass[label])")
      }
      if !dataset.issues.isEmpty {
        print("\(dataset.issues.count) annotation problem\(dataset.issues.count == 1 ? "" : "s") were left out: run 'simpledet dataset check'")
      }
    }
  }
}
