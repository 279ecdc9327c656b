/// What a COCO evaluation compares: boxes or masks.
public enum IoUType: String, Hashable, Sendable, CaseIterable {
  case bbox
  case segm
}

/// An object-size bucket, by area in pixels (bounds inclusive, as in pycocotools).
public struct AreaRange: Hashable, Sendable {
  public var label: String
  public var lowerBound: Double
  public var upperBound: Double

  public init(_ label: String, _ lowerBound: Double, _ upperBound: Double) {
    self.label = label
    self.lowerBound = lowerBound
    self.upperBound = upperBound
  }
}

/// COCOeval's `Params` for boxes and masks.
public struct COCOParameters: Hashable, Sendable {
  /// 0.50, 0.55, …, 0.95, computed as numpy's `linspace` does so that thresholds compare
  /// bit-for-bit alike (0.8999999999999999, not 0.9).
  public var iouThresholds: [Double]
  /// 0.00, 0.01, …, 1.00, likewise.
  public var recallThresholds: [Double]
  public var areaRanges: [AreaRange]
  /// Kept sorted; the largest also caps how many detections per image and category are matched.
  public var maxDetections: [Int]
  /// Images to evaluate, nil for all images of the ground truth.
  public var imageIDs: [Int]?
  /// Categories to evaluate, nil for all categories of the ground truth.
  public var categoryIDs: [Int]?

  public init(
    iouThresholds: [Double] = COCOParameters.linspace(0.5, 0.95, count: 10),
    recallThresholds: [Double] = COCOParameters.linspace(0.0, 1.0, count: 101),
    areaRanges: [AreaRange] = [
      AreaRange("all", 0, 1e10), AreaRange("small", 0, 1024), AreaRange("medium", 1024, 9216),
      AreaRange("large", 9216, 1e10),
    ],
    maxDetections: [Int] = [1, 10, 100],
    imageIDs: [Int]? = nil,
    categoryIDs: [Int]? = nil
  ) {
    self.iouThresholds = iouThresholds
    self.recallThresholds = recallThresholds
    self.areaRanges = areaRanges
    self.maxDetections = maxDetections
    self.imageIDs = imageIDs
    self.categoryIDs = categoryIDs
  }

  /// The parameters every published COCO number uses.
  public static let standard = COCOParameters()

  /// numpy's `linspace(start, stop, count)`: `start + i * step`, with the last value exactly `stop`.
  public static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
    precondition(count >= 2, "linspace needs at least two points")
    let step = (stop - start) / Double(count - 1)
    var values = (0..<count).map { Double($0) * step + start }
    values[count - 1] = stop
    return values
  }
}
