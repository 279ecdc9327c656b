import Foundation
import Masks

/// Writes records as a COCO instances JSON file: `bbox` as `x, y, w, h`, the file's category ids
/// from the metadata, `area` from the mask when there is one (as COCO does) or from the box, and
/// RLE masks in compressed form; `difficult: 1` on difficult instances and an `attributes` object
/// on images and annotations that carry attributes (fields COCO lacks; pycocotools ignores them).
public enum COCOWriter {
  public static func encode(records: [DatasetRecord], metadata: DatasetMetadata) throws -> Data {
    var images: [[String: Any]] = []
    var annotations: [[String: Any]] = []
    var nextAnnotationId = 1
    for record in records {
      var image: [String: Any] = ["id": record.imageId, "file_name": record.fileName, "width": record.width, "height": record.height]
      if !record.attributes.isEmpty { image["attributes"] = record.attributes.mapValues(\.json) }
      images.append(image)
      for instance in record.instances {
        var annotation: [String: Any] = [
          "id": instance.annotationId ?? nextAnnotationId,
          "image_id": record.imageId,
          "category_id": metadata.categoryId(forLabel: instance.label),
          "bbox": instance.box.xywh.map(Double.init),
          "iscrowd": instance.isCrowd ? 1 : 0,
        ]
        // Not part of COCO (pycocotools ignores it): keeps VOC's and KITTI's difficult flags.
        if instance.isDifficult { annotation["difficult"] = 1 }
        if !instance.attributes.isEmpty { annotation["attributes"] = instance.attributes.mapValues(\.json) }
        nextAnnotationId = max(nextAnnotationId, (instance.annotationId ?? nextAnnotationId)) + 1
        switch instance.segmentation {
        case .polygons(let polygons):
          annotation["segmentation"] = polygons
          annotation["area"] = Double(instance.segmentation!.area(height: record.height, width: record.width))
        case .runLength(let rle):
          annotation["segmentation"] = ["size": [rle.height, rle.width], "counts": rle.compressedCounts] as [String: Any]
          annotation["area"] = Double(rle.area)
        case nil:
          annotation["area"] = Double(instance.box.area)
        }
        annotations.append(annotation)
      }
    }
    let categories: [[String: Any]] = metadata.categories.map {
      var category: [String: Any] = ["id": $0.id, "name": $0.name]
      if let supercategory = $0.supercategory { category["supercategory"] = supercategory }
      return category
    }
    let root: [String: Any] = ["images": images, "annotations": annotations, "categories": categories]
    return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
  }
}
