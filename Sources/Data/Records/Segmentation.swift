import Masks

/// An instance's mask as an annotation file gives it.
public enum Segmentation: Sendable, Equatable {
  /// One or more polygons, each `[x0, y0, x1, y1, ...]` in absolute pixels (COCO's layout).
  case polygons([[Double]])
  /// COCO run-length encoding (read from plain or compressed counts alike).
  case runLength(RLE)

  /// The mask as 0/1 bytes in row-major order, `height x width`, rasterised as pycocotools does.
  public func bitmap(height: Int, width: Int) -> [UInt8] {
    switch self {
    case .polygons(let polygons): RLE(polygons: polygons, height: height, width: width).decoded(order: .rowMajor)
    case .runLength(let rle): rle.decoded(order: .rowMajor)
    }
  }

  /// The mask's pixel count (what COCO's `area` field holds for segmented instances).
  public func area(height: Int, width: Int) -> Int {
    switch self {
    case .polygons(let polygons): RLE(polygons: polygons, height: height, width: width).area
    case .runLength(let rle): rle.area
    }
  }
}
