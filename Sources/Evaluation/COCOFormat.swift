import Masks

/// The `segmentation` of a COCO record, as written in the file.
///
/// Polygons are kept as coordinates because they can only be rasterised once the image size is
/// known; run-length masks carry their own size.
public enum COCOSegmentation: Hashable, Sendable {
  /// One or more polygons of flat `x0, y0, x1, y1, …` coordinates making up one object.
  case polygons([[Double]])
  /// A mask, from either compressed (`counts` string) or uncompressed (`counts` array) form.
  case mask(RLE)
}

/// Decodes what a COCO file may hold in `segmentation`: a list of polygons, or an object with
/// `size` `[height, width]` and `counts` as a string or an array of run lengths.
struct SegmentationRecord: Decodable {
  var value: COCOSegmentation

  private enum Keys: String, CodingKey { case size, counts }

  init(from decoder: any Decoder) throws {
    if var list = try? decoder.unkeyedContainer() {
      var polygons: [[Double]] = []
      while !list.isAtEnd { polygons.append(try list.decode([Double].self)) }
      value = .polygons(polygons)
      return
    }
    let object = try decoder.container(keyedBy: Keys.self)
    let size = try object.decode([Int].self, forKey: .size)
    guard size.count == 2, size[0] >= 0, size[1] >= 0 else {
      throw DecodingError.dataCorruptedError(
        forKey: .size, in: object, debugDescription: "size must be [height, width], got \(size)")
    }
    if let text = try? object.decode(String.self, forKey: .counts) {
      do {
        value = .mask(try RLE(height: size[0], width: size[1], compressedCounts: text))
      } catch {
        throw DecodingError.dataCorruptedError(forKey: .counts, in: object, debugDescription: "\(error)")
      }
    } else {
      let counts = try object.decode([Int].self, forKey: .counts)
      guard counts.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else {
        throw DecodingError.dataCorruptedError(
          forKey: .counts, in: object, debugDescription: "run lengths must be between 0 and 2^32-1")
      }
      value = .mask(RLE(height: size[0], width: size[1], counts: counts.map { UInt32($0) }))
    }
  }
}

/// `iscrowd` is an integer in COCO's files and a Boolean in some converters' output.
struct FlexibleFlag: Decodable {
  var value: Bool

  init(from decoder: any Decoder) throws {
    let single = try decoder.singleValueContainer()
    if let number = try? single.decode(Int.self) {
      value = number != 0
    } else {
      value = try single.decode(Bool.self)
    }
  }
}

struct ImageRecord: Decodable {
  var id: Int
  var width: Int?
  var height: Int?
}

struct CategoryRecord: Decodable {
  var id: Int
  var name: String?
}

struct AnnotationRecord: Decodable {
  var id: Int
  var image_id: Int
  var category_id: Int
  var bbox: [Double]?
  var area: Double?
  var iscrowd: FlexibleFlag?
  var segmentation: SegmentationRecord?
}

struct GroundTruthRecord: Decodable {
  var images: [ImageRecord]
  var annotations: [AnnotationRecord]?
  var categories: [CategoryRecord]
}

struct DetectionRecord {
  var image_id: Int
  var category_id: Int
  var bbox: [Double]?
  var score: Double
  var segmentation: COCOSegmentation?
}
