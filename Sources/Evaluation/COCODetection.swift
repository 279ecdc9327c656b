import Masks

/// One detection in COCO's results form, with the dataset's own category id.
public struct COCODetection: Hashable, Sendable {
  public var imageID: Int
  public var categoryID: Int
  public var score: Double
  /// Required for box evaluation unless `segmentation` is given (its bounding box is used).
  public var box: BoundingBox?
  /// Required for mask evaluation unless `box` is given (the box is rasterised, as pycocotools
  /// does for box-only results).
  public var segmentation: COCOSegmentation?
  /// The size the detection is bucketed by (small/medium/large). When nil, it is the box area in
  /// box evaluation and the mask area in mask evaluation. Results files follow pycocotools'
  /// rule instead, see `COCOResultsFile`.
  public var area: Double?

  public init(
    imageID: Int, categoryID: Int, score: Double, box: BoundingBox? = nil, segmentation: COCOSegmentation? = nil,
    area: Double? = nil
  ) {
    self.imageID = imageID
    self.categoryID = categoryID
    self.score = score
    self.box = box
    self.segmentation = segmentation
    self.area = area
  }

  /// A detection whose mask is given as a run-length mask.
  public init(imageID: Int, categoryID: Int, score: Double, box: BoundingBox? = nil, mask: RLE, area: Double? = nil) {
    self.init(imageID: imageID, categoryID: categoryID, score: score, box: box, segmentation: .mask(mask), area: area)
  }
}
