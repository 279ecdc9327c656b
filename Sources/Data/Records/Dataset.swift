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

  /// The RGB pixels of record `index` (decoded from its file, or rendered for the shapes).
  public func image(at index: Int) throws -> Image {
    let record = records[index]
    switch imageSource {
    case .shapes(let shapes):
      return shapes.rendered(at: record.imageId).0
    case .folder(let root):
      let url = root.appendingPathComponent(record.fileName)
      do {
        return try ImageCodec.decode(contentsOf: url, channels: 3)
      } catch {
        throw DatasetFormatError(file: url.path, message: "cannot decode the image of record \(record.imageId): \(error)")
      }
    }
  }
}
