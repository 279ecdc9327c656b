import Foundation
import Masks

extension ShapesDataset {
  /// Writes the dataset as a COCO folder: `images/000000.png` (or `.jpg`) and
  /// `annotations.json` with boxes and RLE masks (RLE because occluded shapes are not polygons).
  /// Returns the annotation file's URL.
  @discardableResult
  public func exportCOCO(to folder: URL, imageFormat: ImageFormat = .png, jpegQuality: Int = 95) throws -> URL {
    let images = folder.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    var records: [DatasetRecord] = []
    records.reserveCapacity(count)
    for index in 0..<count {
      let (image, base, masks) = rendered(at: index)
      var record = base
      record.fileName = ShapesDataset.fileName(index, format: imageFormat)
      for (k, mask) in masks.enumerated() {
        record.instances[k].segmentation = .runLength(RLE(mask: mask, height: record.height, width: record.width, order: .rowMajor))
      }
      records.append(record)
      let data = try ImageCodec.encode(image, as: imageFormat, quality: jpegQuality)
      try data.write(to: folder.appendingPathComponent(record.fileName), options: .atomic)
    }
    let annotations = folder.appendingPathComponent("annotations.json")
    try COCOWriter.encode(records: records, metadata: ShapesDataset.metadata).write(to: annotations, options: .atomic)
    return annotations
  }
}
