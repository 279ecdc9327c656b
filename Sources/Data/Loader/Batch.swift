import Detection
import Torch

/// A batch ready for the model.
public struct Batch {
  /// `[count, 3, H, W]` float32, normalised, zero-padded at the bottom and right to a multiple
  /// of the pad stride.
  public let images: Tensor
  /// Each image's size inside `images` (after the transforms, before padding).
  public let imageSizes: [(height: Int, width: Int)]
  /// Per image: `boxes` `[N, 4]` float32 (`x1, y1, x2, y2` in the transformed image), `labels`
  /// `[N]` int64 (contiguous), and `masks` `[N, h, w]` uint8 when masks are loaded.
  public let targets: [Instances]
  /// The records the images came from (ids, file names, original sizes).
  public let records: [DatasetRecord]
  /// Whether each image was flipped horizontally.
  public let flipped: [Bool]
  public let epoch: Int
  /// The batch's position in its epoch (what a resumed run passes as `startingAtBatch`).
  public let index: Int

  public var count: Int { records.count }

  /// Image `i` without padding, `[3, h, w]` (a view into `images`).
  public func image(_ i: Int) -> Tensor {
    images[i, .all, 0..<imageSizes[i].height, 0..<imageSizes[i].width]
  }

  init(_ prepared: PreparedBatch) {
    let shape = [prepared.count, 3, prepared.height, prepared.width]
    images = prepared.pixels.withUnsafeBytes {
      Tensor(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(prepared.pixelCount * MemoryLayout<Float>.size)), shape: shape, dtype: .float32)
    }
    imageSizes = prepared.imageSizes
    var targets: [Instances] = []
    for i in 0..<prepared.count {
      let boxes = prepared.boxes[i]
      let flat = boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }
      var fields: [String: Tensor] = [
        "boxes": flat.withUnsafeBytes { Tensor(bytes: $0, shape: [boxes.count, 4], dtype: .float32) },
        "labels": prepared.labels[i].map(Int64.init).withUnsafeBytes { Tensor(bytes: $0, shape: [boxes.count], dtype: .int64) },
      ]
      if let masks = prepared.masks?[i] {
        let size = prepared.imageSizes[i]
        let bytes = masks.flatMap { $0 }
        fields["masks"] = bytes.withUnsafeBytes { Tensor(bytes: $0, shape: [masks.count, size.height, size.width], dtype: .uint8) }
      }
      targets.append(Instances(imageSize: prepared.imageSizes[i], fields: fields))
    }
    self.targets = targets
    records = prepared.records
    flipped = prepared.flipped
    epoch = prepared.epoch
    index = prepared.index
  }
}
