import ArgumentParser
import Data
import Foundation

extension CrowdHumanReader.BoxKind: ExpressibleByArgument {}

extension DatasetCommand {
  /// `simpledet dataset convert`: any format SimpleDet reads, written as a COCO instances file.
  struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a dataset (KITTI, WiderFace, CrowdHuman, Cityscapes, VOC, ...) to a COCO JSON file.",
      discussion: """
        Reads the annotations with the format's reader and writes COCO JSON: image file names \
        relative to the image folder (--images, or the format's own), the format's categories, \
        and ignore regions (KITTI DontCare, WiderFace invalid faces, CrowdHuman masks and ignored \
        boxes, Cityscapes groups) as iscrowd annotations. Prints the images, the instances per class and, with \
        --on-error skip (the default), the problems left out; with --on-error fail the first \
        problem stops the conversion. See docs/datasets.md for each format's layout.
        """)

    @Option(name: .customLong("from"), help: "kitti, wider-face, crowdhuman or cityscapes (also coco, voc, light-json).")
    var format: DatasetFormat

    @Option(help: ArgumentHelp(
      "KITTI: the folder holding label_2/ (training/) or its parent; WiderFace: the folder holding wider_face_split/, or a *_bbx_gt.txt file; CrowdHuman: the folder holding annotation_*.odgt, or an .odgt file; Cityscapes: the folder holding gtFine/ and leftImg8bit/.",
      valueName: "path"))
    var input: String

    @Option(help: ArgumentHelp("The COCO JSON file to write.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp(
      "The image folder; written file names are relative to it (default: KITTI image_2/, WiderFace WIDER_<split>/images/, CrowdHuman Images/, Cityscapes leftImg8bit/<split>/).",
      valueName: "dir"))
    var images: String?

    @Option(help: ArgumentHelp(
      "WiderFace and CrowdHuman: train or val when --input is the dataset's folder (default: train); Cityscapes: train, val or test (default: train); KITTI: an id list, ImageSets/<name>.txt or a path (default: every label file); VOC: the image set (default: trainval).",
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

    func validate() throws {
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
      let dataset: Dataset
      do {
        dataset = try format.read(
          annotations: URL(fileURLWithPath: input), images: images.map { URL(fileURLWithPath: $0) }, classes: classList,
          imageSet: split ?? (format == .voc ? "trainval" : nil), policy: onError, crowdHumanBox: crowdhumanBox ?? .full)
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
