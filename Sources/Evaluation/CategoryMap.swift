/// Maps a model's contiguous labels `0..<count` to a dataset's category ids and back.
///
/// Labels follow the ascending order of the ids, the convention of detectron2 and torchvision's
/// COCO recipes, so that a checkpoint trained elsewhere keeps its class order.
public struct CategoryMap: Hashable, Sendable {
  /// The dataset's category id of each label.
  public let categoryIDs: [Int]
  private let labels: [Int: Int]

  public init(categoryIDs: some Sequence<Int>) {
    let sorted = Array(Set(categoryIDs)).sorted()
    self.categoryIDs = sorted
    self.labels = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0) })
  }

  public init(groundTruth: COCOGroundTruth) {
    self.init(categoryIDs: groundTruth.categories.map(\.id))
  }

  public var count: Int { categoryIDs.count }

  public func categoryID(forLabel label: Int) -> Int {
    precondition(categoryIDs.indices.contains(label), "label \(label) is outside 0..<\(categoryIDs.count)")
    return categoryIDs[label]
  }

  public func label(forCategoryID id: Int) -> Int? {
    labels[id]
  }
}
