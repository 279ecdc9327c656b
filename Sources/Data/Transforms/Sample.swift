/// One image on its way through the transforms: pixels, and per-instance boxes, labels and
/// (when asked for) masks, all kept in step. Every geometric transform moves boxes and masks
/// with the pixels, and `removeDegenerateInstances` drops an instance from all three at once.
public struct Sample: Sendable {
  public var image: Image
  /// `x1, y1, x2, y2` in the current image's pixels.
  public var boxes: [Box]
  /// Contiguous labels, one per box.
  public var labels: [Int]
  /// Row-major 0/1 bytes of the current image's size, one per box; nil when masks are not loaded.
  public var masks: [[UInt8]]?
  /// The record as read, for ids and the original size.
  public let record: DatasetRecord
  /// Whether a horizontal flip was applied (for flip-aware test-time code).
  public var isFlipped = false
  /// Set when the pixels were decoded smaller than the record's size (JPEG DCT scaling): the
  /// size the first resize computes its output from, so that the output does not depend on
  /// whether the fast path was taken.
  public var nominalSize: (width: Int, height: Int)?

  public init(image: Image, boxes: [Box], labels: [Int], masks: [[UInt8]]? = nil, record: DatasetRecord) {
    precondition(boxes.count == labels.count, "Sample: \(boxes.count) boxes but \(labels.count) labels")
    precondition(masks == nil || masks!.count == boxes.count, "Sample: \(masks!.count) masks for \(boxes.count) boxes")
    self.image = image
    self.boxes = boxes
    self.labels = labels
    self.masks = masks
    self.record = record
  }

  public var instanceCount: Int { boxes.count }

  /// Drops instances whose box is at most `minimumSide` pixels wide or tall (after a crop or a
  /// downscale), with their labels and masks.
  public mutating func removeDegenerateInstances(minimumSide: Float = 0) {
    let keep = boxes.map { $0.isNonDegenerate(minimumSide: minimumSide) }
    guard keep.contains(false) else { return }
    boxes = zip(boxes, keep).filter(\.1).map(\.0)
    labels = zip(labels, keep).filter(\.1).map(\.0)
    if let current = masks { masks = zip(current, keep).filter(\.1).map(\.0) }
  }
}
