/// Counts that tell whether a dataset looks as expected: images, instances per class, sizes.
public struct DatasetStatistics: Sendable, Equatable {
  public var imageCount: Int
  public var instanceCount: Int
  public var crowdCount: Int
  public var difficultCount: Int
  public var imagesWithoutInstances: Int
  public var landscapeCount: Int
  /// Instances per label, indexed by label.
  public var instancesPerClass: [Int]
  public var widths: ClosedRange<Int>?
  public var heights: ClosedRange<Int>?
  public var maskedCount: Int
  /// Box areas below 32², up to 96², and above: COCO's small, medium and large.
  public var smallCount: Int
  public var mediumCount: Int
  public var largeCount: Int

  public init(_ dataset: Dataset) {
    let records = dataset.records
    imageCount = records.count
    instanceCount = records.reduce(0) { $0 + $1.instances.count }
    crowdCount = records.reduce(0) { $0 + $1.instances.filter(\.isCrowd).count }
    difficultCount = records.reduce(0) { $0 + $1.instances.filter(\.isDifficult).count }
    imagesWithoutInstances = records.filter(\.instances.isEmpty).count
    landscapeCount = records.filter(\.isLandscape).count
    var perClass = [Int](repeating: 0, count: dataset.metadata.classCount)
    var masked = 0
    var small = 0, medium = 0, large = 0
    for record in records {
      for instance in record.instances {
        if perClass.indices.contains(instance.label) { perClass[instance.label] += 1 }
        if instance.segmentation != nil { masked += 1 }
        let area = instance.box.area
        if area < 32 * 32 { small += 1 } else if area < 96 * 96 { medium += 1 } else { large += 1 }
      }
    }
    instancesPerClass = perClass
    maskedCount = masked
    smallCount = small
    mediumCount = medium
    largeCount = large
    if let first = records.first {
      widths = records.reduce(first.width...first.width) { min($0.lowerBound, $1.width)...max($0.upperBound, $1.width) }
      heights = records.reduce(first.height...first.height) { min($0.lowerBound, $1.height)...max($0.upperBound, $1.height) }
    }
  }
}
