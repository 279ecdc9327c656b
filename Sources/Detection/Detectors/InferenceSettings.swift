/// What only inference reads, changeable on a built model (a config's `test:` section): the
/// test-time resize and the detections kept.
public struct InferenceSettings: Equatable, Sendable {
  /// Detections scoring below this are dropped.
  public var scoreThreshold: Double
  public var detectionsPerImage: Int
  /// The shorter side test images are resized to, and the longer side's limit.
  public var minSize: Int
  public var maxSize: Int
  /// How overlapping detections of a class are reduced; nil: the heads' own greedy NMS at their
  /// own IoU thresholds.
  public var nms: NMSMethod?
  /// Test-time augmentation: when set, `detect` runs each image at these sizes (and flipped) and
  /// merges the passes; nil: one pass at `minSize`.
  public var augment: TestAugmentation?

  public init(
    scoreThreshold: Double, detectionsPerImage: Int, minSize: Int, maxSize: Int, nms: NMSMethod? = nil,
    augment: TestAugmentation? = nil
  ) {
    self.scoreThreshold = scoreThreshold
    self.detectionsPerImage = detectionsPerImage
    self.minSize = minSize
    self.maxSize = maxSize
    self.nms = nms
    self.augment = augment
  }

  /// A detector configuration's own test settings: its heads' score threshold and detection
  /// count, and its training transform's last shorter-side size and longer-side limit (as
  /// torchvision tests).
  public init(_ configuration: DetectorConfiguration) {
    let (threshold, count): (Double, Int) =
      if let head = configuration.head {
        (head.scoreThreshold, head.detectionsPerImage)
      } else if let roiHeads = configuration.roiHeads {
        (roiHeads.scoreThreshold, roiHeads.detectionsPerImage)
      } else {
        (0.05, 100)
      }
    self.init(
      scoreThreshold: threshold, detectionsPerImage: count, minSize: configuration.transform.minSize.last ?? 800,
      maxSize: configuration.transform.maxSize)
  }
}
