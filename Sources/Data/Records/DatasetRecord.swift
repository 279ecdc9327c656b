/// One annotated object.
public struct AnnotationInstance: Sendable, Equatable {
  public var box: Box
  /// The contiguous class index `0..<numClasses` (see `DatasetMetadata` for the file's ids).
  public var label: Int
  /// COCO `iscrowd`: the region covers a group of objects; evaluation ignores matches to it and
  /// training usually drops it.
  public var isCrowd: Bool
  /// Pascal VOC `difficult`: kept for training, ignored by VOC evaluation.
  public var isDifficult: Bool
  public var segmentation: Segmentation?
  /// The annotation's id in its file, when the format has one (for reports and results).
  public var annotationId: Int?
  /// What the source says about the object beyond the fields above (DeepLesion's lesion type).
  public var attributes: Attributes

  public init(
    box: Box, label: Int, isCrowd: Bool = false, isDifficult: Bool = false,
    segmentation: Segmentation? = nil, annotationId: Int? = nil, attributes: Attributes = [:]
  ) {
    self.box = box
    self.label = label
    self.isCrowd = isCrowd
    self.isDifficult = isDifficult
    self.segmentation = segmentation
    self.annotationId = annotationId
    self.attributes = attributes
  }
}

/// One image and its annotations, the same for every reader.
public struct DatasetRecord: Sendable, Equatable {
  /// The image's id in its file (COCO `id`; VOC and light JSON records are numbered in order).
  public var imageId: Int
  /// The image's path relative to the dataset's image folder.
  public var fileName: String
  /// The size the annotations were made for (EXIF orientation applied).
  public var width: Int
  public var height: Int
  public var instances: [AnnotationInstance]
  /// What the source says about the image beyond the fields above (DeepLesion's pixel spacing,
  /// DOTA's ground sample distance).
  public var attributes: Attributes

  public init(
    imageId: Int, fileName: String, width: Int, height: Int, instances: [AnnotationInstance] = [], attributes: Attributes = [:]
  ) {
    self.imageId = imageId
    self.fileName = fileName
    self.width = width
    self.height = height
    self.instances = instances
    self.attributes = attributes
  }

  /// Wider than tall (or square): the loader batches such images together.
  public var isLandscape: Bool { width >= height }
}
