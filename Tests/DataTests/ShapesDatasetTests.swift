import Foundation
import Masks
import Testing

@testable import Data

@Suite struct ShapesDatasetTests {
  let shapes = ShapesDataset(imageCount: 12, seed: 7)

  @Test func sameSeedGivesSameImagesAndRecords() {
    let again = ShapesDataset(imageCount: 12, seed: 7)
    for index in [0, 5, 11] {
      #expect(shapes.image(at: index) == again.image(at: index))
      #expect(shapes.record(at: index) == again.record(at: index))
    }
    let other = ShapesDataset(imageCount: 12, seed: 8)
    #expect(shapes.image(at: 0) != other.image(at: 0))
  }

  @Test func imagesFollowTheConfiguration() {
    for index in 0..<shapes.count {
      let record = shapes.record(at: index)
      #expect((256...384).contains(record.width) && (256...384).contains(record.height))
      #expect((1...6).contains(record.instances.count))
      for instance in record.instances {
        #expect((0..<3).contains(instance.label))
        #expect(instance.box.width >= 4 && instance.box.width <= 121)
      }
    }
    let orientations = Set((0..<shapes.count).map { shapes.record(at: $0).isLandscape })
    #expect(orientations.count == 2)
  }

  @Test func masksAreExactAndBoxesTightAroundThem() throws {
    for index in 0..<4 {
      let (image, record, masks) = shapes.rendered(at: index)
      #expect(masks.count == record.instances.count)
      var union = [Int](repeating: 0, count: record.width * record.height)
      for (mask, instance) in zip(masks, record.instances) {
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        var colors = Set<[UInt8]>()
        for y in 0..<record.height {
          for x in 0..<record.width where mask[y * record.width + x] == 1 {
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            union[y * record.width + x] += 1
            let p = (y * record.width + x) * 3
            // Painted in the object's colour, up to the small noise.
            colors.insert(Array(image.pixels[p..<p + 3]).map { $0 / 32 })
          }
        }
        #expect(instance.box == Box(x1: Float(minX), y1: Float(minY), x2: Float(maxX + 1), y2: Float(maxY + 1)))
        #expect(colors.count <= 8)
      }
      // Masks never overlap: occluded pixels belong to the shape on top only.
      #expect(union.allSatisfy { $0 <= 1 })
    }
  }

  @Test func exportsACOCOFolderThatReadsBack() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let small = ShapesDataset(imageCount: 3, seed: 1)
    let annotations = try small.exportCOCO(to: folder)
    let dataset = try COCOReader.read(annotations: annotations, images: folder, policy: .fail)
    #expect(dataset.metadata.classNames == ShapesDataset.classNames)
    #expect(dataset.records.count == 3)
    for index in 0..<3 {
      let (image, record, masks) = small.rendered(at: index)
      let read = dataset.records[index]
      #expect(read.instances.map(\.box) == record.instances.map(\.box))
      #expect(read.instances.map(\.label) == record.instances.map(\.label))
      for (instance, mask) in zip(read.instances, masks) {
        #expect(instance.segmentation?.bitmap(height: read.height, width: read.width) == mask)
      }
      let decoded = try ImageCodec.decode(contentsOf: folder.appendingPathComponent(read.fileName))
      #expect(decoded == image)
    }
  }
}
