import Foundation

/// The annotation formats SimpleDet reads, and one entry point for all of them (what configs and
/// the command line use).
public enum DatasetFormat: String, Sendable, Codable, CaseIterable {
  case coco
  case voc
  case lightJSON = "light-json"
  case kitti
  case widerFace = "wider-face"
  case crowdHuman = "crowdhuman"
  case cityscapes
  case dota
  case deeplesion
  case kitchen

  /// Guesses the format: a folder is KITTI (with `label_2/` or `training/label_2/`), WiderFace
  /// (with `wider_face_split/`), CrowdHuman (with `annotation_train.odgt`), Cityscapes (with
  /// `gtFine/`), DOTA (with `labelTxt/` or `train/labelTxt/`), DeepLesion (with `DL_info.csv`) or else
  /// VOC (Kitchen's VOC layout is told only by name); a `DL_info.csv` file is DeepLesion, a `.odgt`
  /// file is CrowdHuman, a `*_bbx_gt.txt` file WiderFace; a JSON file whose images carry `file`
  /// is light JSON, otherwise COCO. Nil when the path does not exist.
  public static func detect(annotations url: URL) -> DatasetFormat? {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
    if isFolder.boolValue {
      let has = { (path: String) in FileManager.default.fileExists(atPath: url.appendingPathComponent(path).path) }
      if has("label_2") || has("training/label_2") { return .kitti }
      if has("wider_face_split") { return .widerFace }
      if has("annotation_train.odgt") || has("annotation_val.odgt") { return .crowdHuman }
      if has("gtFine") { return .cityscapes }
      if has("labelTxt") || has("train/labelTxt") { return .dota }
      if has("DL_info.csv") { return .deeplesion }
      return .voc
    }
    if url.pathExtension == "odgt" { return .crowdHuman }
    if url.lastPathComponent == "DL_info.csv" { return .deeplesion }
    if url.lastPathComponent.hasSuffix("_bbx_gt.txt") { return .widerFace }
    // The first image entry decides; reading a few KiB is enough for either format.
    guard let handle = try? FileHandle(forReadingFrom: url) else { return .coco }
    defer { try? handle.close() }
    let head = String(decoding: (try? handle.read(upToCount: 65536)) ?? Data(), as: UTF8.self)
    if head.contains("\"file_name\"") { return .coco }
    if head.contains("\"file\"") { return .lightJSON }
    return .coco
  }

  /// Reads a dataset.
  ///
  /// - Parameters:
  ///   - annotations: the JSON file (COCO, light JSON), the VOC folder (with `Annotations/`), or
  ///     the format's annotation file or folder (see each reader).
  ///   - images: the folder image paths are relative to; nil: the format's own (VOC
  ///     `JPEGImages/`, Cityscapes `leftImg8bit/<split>`, ...).
  ///   - classes: VOC's class list (nil: the 20 Pascal classes); KITTI's class map entries
  ///     (`KITTIClassMap`; nil: all eight types).
  ///   - imageSet: VOC's image-set list name (nil: every annotation file); KITTI's id list (nil:
  ///     every label file); the split (`train`, `val`; nil: `train`) when WiderFace or
  ///     CrowdHuman `annotations` is the dataset's folder rather than its annotation file;
  ///     Cityscapes' split (nil: `train`); DOTA's split folder when `annotations` holds `train/`
  ///     and `val/` (nil: `train`); DeepLesion's split (`train`, `val`, `test`, `all`; nil: `train`);
  ///     Kitchen's list under `ImageSets/Main/` (nil: `train`, `all`: every annotation file).
  ///   - crowdHumanBox: which CrowdHuman box to read.
  ///   - dotaVersion: the DOTA release whose classes to read with.
  public func read(
    annotations: URL, images: URL?, classes: [String]? = nil, imageSet: String? = "trainval", policy: BadDataPolicy = .skip,
    crowdHumanBox: CrowdHumanReader.BoxKind = .full, dotaVersion: DOTAReader.Version = .v1_0
  ) throws -> Dataset {
    switch self {
    case .coco:
      return try COCOReader.read(annotations: annotations, images: images ?? annotations.deletingLastPathComponent(), policy: policy)
    case .lightJSON:
      return try LightJSONReader.read(annotations: annotations, images: images ?? annotations.deletingLastPathComponent(), policy: policy)
    case .voc:
      var dataset = try VOCReader.read(root: annotations, imageSet: imageSet, classes: classes ?? VOCReader.pascalClasses, policy: policy)
      if let images { dataset.imageSource = .folder(images) }
      return dataset
    case .kitti:
      let map = try classes.map { try KITTIClassMap($0) } ?? .all
      return try KITTIReader.read(root: annotations, images: images, imageSet: imageSet, classes: map, policy: policy)
    case .widerFace:
      let files = try WiderFaceReader.files(at: annotations, split: imageSet)
      return try WiderFaceReader.read(annotations: files.annotations, images: files.imageFolder(or: images), policy: policy)
    case .crowdHuman:
      let files = try CrowdHumanReader.files(at: annotations, split: imageSet)
      return try CrowdHumanReader.read(annotations: files.annotations, images: files.imageFolder(or: images), box: crowdHumanBox, policy: policy)
    case .cityscapes:
      return try CityscapesReader.read(root: annotations, split: imageSet, images: images, policy: policy)
    case .dota:
      return try DOTAReader.read(root: annotations, split: imageSet, images: images, version: dotaVersion, policy: policy)
    case .deeplesion:
      guard let images else {
        throw DatasetFormatError(
          file: DeepLesionReader.annotationFile(annotations).path,
          message: "name the folder of 8-bit key slices that `simpledet dataset convert --from deeplesion --images-out` writes (its 16-bit Images_png cannot be trained on)")
      }
      return try DeepLesionReader.read(annotations: annotations, images: images, split: imageSet, policy: policy)
    case .kitchen:
      return try KitchenReader.read(root: annotations, split: imageSet, images: images, policy: policy)
    }
  }

  /// The classes of formats whose class list does not depend on the data (with `classes` as for
  /// `read`), nil for the others: what a model trained on such data predicts, without the data.
  public func fixedMetadata(classes: [String]? = nil, dotaVersion: DOTAReader.Version = .v1_0) -> DatasetMetadata? {
    switch self {
    case .kitti: (try? classes.map { try KITTIClassMap($0) } ?? .all)?.metadata
    case .widerFace: WiderFaceReader.metadata
    case .crowdHuman: CrowdHumanReader.metadata
    case .cityscapes: CityscapesReader.metadata
    case .dota: dotaVersion.metadata
    case .deeplesion: DeepLesionReader.metadata
    case .kitchen: KitchenReader.metadata
    case .coco, .voc, .lightJSON: nil
    }
  }
}
