import Foundation

/// Where a dataset's pixels come from.
public enum ImageSource: Sendable {
  /// Files named by `DatasetRecord.fileName`, relative to a folder.
  case folder(URL)
  /// The built-in shapes dataset, rendered on demand from its seed.
  case shapes(ShapesDataset)
}

/// Records, class metadata and an image source: what every reader produces and the loader takes.
public struct Dataset: Sendable {
  public var records: [DatasetRecord]
  public var metadata: DatasetMetadata
  public var imageSource: ImageSource
  /// The annotation file the records came from (for messages), if any.
  public var annotationFile: String?
  /// Problems found and handled while reading (dropped instances or records) under the `skip`
  /// policy; under `fail` reading throws instead.
  public var issues: [DataIssue]

  public init(
    records: [DatasetRecord], metadata: DatasetMetadata, imageSource: ImageSource, annotationFile: String? = nil,
    issues: [DataIssue] = []
  ) {
    self.records = records
    self.metadata = metadata
    self.imageSource = imageSource
    self.annotationFile = annotationFile
    self.issues = issues
  }

  public var count: Int { records.count }

  /// The path of a record's image file, for folder datasets.
  public func imageURL(for record: DatasetRecord) -> URL? {
    guard case .folder(let root) = imageSource else { return nil }
    return root.appendingPathComponent(record.fileName)
  }
}
