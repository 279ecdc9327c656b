/// The classes of a dataset and how the file's category ids map to the model's contiguous labels.
/// Written next to checkpoints so predictions can be mapped back to the file's ids.
public struct DatasetMetadata: Sendable, Equatable, Codable {
  public struct Category: Sendable, Equatable, Codable {
    /// The id in the annotation file (COCO ids are arbitrary and may have gaps).
    public var id: Int
    public var name: String
    public var supercategory: String?

    public init(id: Int, name: String, supercategory: String? = nil) {
      self.id = id
      self.name = name
      self.supercategory = supercategory
    }
  }

  /// Indexed by label: `categories[label]`.
  public var categories: [Category]

  public init(categories: [Category]) {
    self.categories = categories
  }

  public var classCount: Int { categories.count }
  public var classNames: [String] { categories.map(\.name) }

  /// The contiguous label of a file category id.
  public func label(forCategoryId id: Int) -> Int? { categories.firstIndex { $0.id == id } }

  /// The contiguous label of a class name.
  public func label(forName name: String) -> Int? { categories.firstIndex { $0.name == name } }

  /// The file category id of a label.
  public func categoryId(forLabel label: Int) -> Int { categories[label].id }
}
