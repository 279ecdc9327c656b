import Foundation

/// The built-in synthetic dataset: images of random size and background holding circles,
/// rectangles and triangles of random colour, size and position. Shapes may overlap (later ones
/// occlude earlier ones, but every object stays at least half visible), and masks and boxes are
/// exact: they are the pixels each shape was painted on.
///
/// Nothing is stored: image `i` is regenerated from `(seed, i)` whenever it is asked for, so the
/// dataset costs no memory or files, is the same on every machine, and can be exported as a COCO
/// folder (`simpledet dataset synth`).
public struct ShapesDataset: Sendable, Equatable {
  public static let classNames = ["circle", "rectangle", "triangle"]

  public struct Configuration: Sendable, Equatable, Codable {
    public var imageCount: Int
    public var seed: UInt64
    /// Each side of an image is drawn from this range independently (landscape and portrait).
    public var imageSides: ClosedRange<Int>
    public var objectsPerImage: ClosedRange<Int>
    /// The side of an object's bounding square before occlusion.
    public var objectSides: ClosedRange<Int>
    /// An object hidden more than this by later ones is not placed.
    public var minimumVisibleFraction: Double

    public init(
      imageCount: Int = 200, seed: UInt64 = 0, imageSides: ClosedRange<Int> = 256...384,
      objectsPerImage: ClosedRange<Int> = 2...6, objectSides: ClosedRange<Int> = 30...120,
      minimumVisibleFraction: Double = 0.5
    ) {
      precondition(imageCount >= 0, "ShapesDataset: negative image count")
      precondition(imageSides.lowerBound >= 16, "ShapesDataset: images need sides of at least 16 pixels")
      precondition(objectSides.lowerBound >= 4 && objectSides.upperBound < imageSides.lowerBound, "ShapesDataset: objects must fit the images")
      self.imageCount = imageCount
      self.seed = seed
      self.imageSides = imageSides
      self.objectsPerImage = objectsPerImage
      self.objectSides = objectSides
      self.minimumVisibleFraction = minimumVisibleFraction
    }
  }

  public let configuration: Configuration

  public init(_ configuration: Configuration) {
    self.configuration = configuration
  }

  public init(imageCount: Int, seed: UInt64) {
    self.init(Configuration(imageCount: imageCount, seed: seed))
  }

  public var count: Int { configuration.imageCount }

  public static var metadata: DatasetMetadata {
    DatasetMetadata(categories: classNames.enumerated().map { .init(id: $0.offset + 1, name: $0.element, supercategory: "shape") })
  }

  /// Every image's record (boxes and labels; masks come with `rendered(at:)`), ready for the loader.
  public var dataset: Dataset {
    Dataset(records: (0..<count).map(record(at:)), metadata: ShapesDataset.metadata, imageSource: .shapes(self))
  }

  /// Image `index`'s annotations. `imageId` is the index; `fileName` is what an export writes.
  public func record(at index: Int) -> DatasetRecord {
    let scene = ShapeScene(configuration: configuration, index: index)
    return scene.record(fileName: ShapesDataset.fileName(index, format: .png))
  }

  /// Image `index`'s pixels (RGB).
  public func image(at index: Int) -> Image {
    ShapeScene(configuration: configuration, index: index).renderedImage()
  }

  /// Image `index` with its record and its instance masks (row-major 0/1 bytes, one per instance,
  /// in the order of `record.instances`).
  public func rendered(at index: Int) -> (image: Image, record: DatasetRecord, masks: [[UInt8]]) {
    let scene = ShapeScene(configuration: configuration, index: index)
    return (scene.renderedImage(), scene.record(fileName: ShapesDataset.fileName(index, format: .png)), scene.instanceMasks())
  }

  static func fileName(_ index: Int, format: ImageFormat) -> String {
    let digits = String(index)
    return "images/" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "." + format.fileExtension
  }
}
