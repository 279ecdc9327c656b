import Foundation

/// Turns a record into a transformed `Sample`: reads and decodes the pixels, checks them against
/// the record, gathers boxes, labels and masks, and runs the transforms. Shared read-only by the
/// worker threads.
struct SampleReader: Sendable {
  let dataset: Dataset
  let transforms: TransformPipeline
  let options: LoaderOptions

  /// A bad image (missing, corrupt, of another size than annotated) is an error here; the loader
  /// skips and counts it.
  func sample(at index: Int, epoch: Int) throws(DataIssueError) -> Sample {
    let record = dataset.records[index]
    var random = SeededRandom(seed: options.sampler.seed, 0xA06, epoch, index)
    let instances = record.instances.filter { options.includeCrowd || !$0.isCrowd }
    var sample: Sample
    switch dataset.imageSource {
    case .shapes(let shapes):
      let (image, _, allMasks) = shapes.rendered(at: record.imageId)
      let masks = options.includeMasks ? record.instances.indices.filter { options.includeCrowd || !record.instances[$0].isCrowd }.map { allMasks[$0] } : nil
      sample = Sample(image: image, boxes: instances.map(\.box), labels: instances.map(\.label), masks: masks, record: record)
    case .folder(let root):
      let url = root.appendingPathComponent(record.fileName)
      let file = url.path
      let name = "image \(record.imageId) (\(record.fileName))"
      guard let data = FileManager.default.contents(atPath: file) else {
        let kind: DataIssue.Kind = FileManager.default.fileExists(atPath: file) ? .unreadableImage : .missingImage
        throw DataIssueError(DataIssue(kind, file: file, record: name, detail: kind == .missingImage ? "no such file" : "cannot be read"))
      }
      let image: Image
      do {
        image = try ImageCodec.decode(data, channels: 3, minimumSize: decodeMinimumSize(record))
      } catch {
        throw DataIssueError(DataIssue(.corruptImage, file: file, record: name, detail: "\(error)"))
      }
      // A DCT-scaled decode is smaller than the record by design; anything else is a mismatch.
      let scaledDown = image.width < record.width && image.height < record.height && decodeMinimumSize(record) != nil
      if !scaledDown, image.width != record.width || image.height != record.height {
        throw DataIssueError(
          DataIssue(.sizeMismatch, file: file, record: name,
            detail: "the file is \(image.width)x\(image.height), the annotation says \(record.width)x\(record.height)"))
      }
      let masks = options.includeMasks ? instances.map { $0.segmentation?.bitmap(height: record.height, width: record.width) ?? boxMask($0.box, record) } : nil
      // Annotations are for the record's size; a DCT-scaled decode needs them scaled to its pixels.
      let sx = Float(image.width) / Float(record.width)
      let sy = Float(image.height) / Float(record.height)
      let boxes = instances.map { Box(x1: $0.box.x1 * sx, y1: $0.box.y1 * sy, x2: $0.box.x2 * sx, y2: $0.box.y2 * sy) }
      sample = Sample(image: image, boxes: boxes, labels: instances.map(\.label), masks: masks, record: record)
      if scaledDown { sample.nominalSize = (record.width, record.height) }
    }
    sample.removeDegenerateInstances()
    transforms.apply(to: &sample, random: &random)
    return sample
  }

  /// The smallest displayed size the first resize can produce, when DCT downscaling is allowed.
  private func decodeMinimumSize(_ record: DatasetRecord) -> (width: Int, height: Int)? {
    guard options.fastDownscale, !options.includeMasks, let resize = transforms.transforms.first as? ResizeShortestEdge else {
      return nil
    }
    let shortest = resize.sampling == .range ? min(resize.sizes[0], resize.sizes[1]) : resize.sizes.min()!
    let size = ResizeShortestEdge.outputSize(width: record.width, height: record.height, shortSide: shortest, maxSize: resize.maxSize)
    return size.width < record.width ? size : nil
  }

  private func boxMask(_ box: Box, _ record: DatasetRecord) -> [UInt8] {
    var mask = [UInt8](repeating: 0, count: record.width * record.height)
    let x0 = max(0, Int(box.x1.rounded())), x1 = min(record.width, Int(box.x2.rounded()))
    let y0 = max(0, Int(box.y1.rounded())), y1 = min(record.height, Int(box.y2.rounded()))
    if x0 < x1 && y0 < y1 { for y in y0..<y1 { for x in x0..<x1 { mask[y * record.width + x] = 1 } } }
    return mask
  }
}

/// A data problem met while loading, thrown so the loader can skip the image and count it.
struct DataIssueError: Error {
  let issue: DataIssue
  init(_ issue: DataIssue) { self.issue = issue }
}
