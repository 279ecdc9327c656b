/// A batch as the workers hand it over: plain arrays only (no tensors), so it crosses threads
/// safely; the consuming thread turns it into a `Batch` with one copy per tensor.
struct PreparedBatch: Sendable {
  var epoch: Int
  /// The batch's position in its epoch.
  var index: Int
  var height = 0
  var width = 0
  /// `[count, 3, height, width]` floats, normalised, zero beyond each image's size.
  var pixels: [Float] = []
  var imageSizes: [(height: Int, width: Int)] = []
  var boxes: [[Box]] = []
  var labels: [[Int]] = []
  var masks: [[[UInt8]]]?
  var records: [DatasetRecord] = []
  var flipped: [Bool] = []
  /// Images of this batch that could not be loaded.
  var skipped: [DataIssue] = []

  var count: Int { records.count }

  init(epoch: Int, index: Int) {
    self.epoch = epoch
    self.index = index
  }

  /// Pads the samples into one normalised CHW buffer.
  init(epoch: Int, index: Int, samples: [Sample], skipped: [DataIssue], normalization: Normalization, tables: [[Float]], padStride: Int) {
    self.init(epoch: epoch, index: index)
    self.skipped = skipped
    guard !samples.isEmpty else { return }
    let stride = padStride
    height = (samples.map(\.image.height).max()! + stride - 1) / stride * stride
    width = (samples.map(\.image.width).max()! + stride - 1) / stride * stride
    let plane = height * width
    // Padding is 0 after normalisation, as detectron2 and torchvision pad.
    pixels = [Float](repeating: 0, count: samples.count * 3 * plane)
    let w = width
    pixels.withUnsafeMutableBufferPointer { out in
      for (n, sample) in samples.enumerated() {
        let image = sample.image
        let c = image.channels
        sample.image.pixels.withUnsafeBufferPointer { input in
          for k in 0..<3 {
            tables[k].withUnsafeBufferPointer { table in
              let channel = c >= 3 ? k : 0
              let base = (n * 3 + k) * plane
              for y in 0..<image.height {
                let row = base + y * w
                var s = y * image.width * c + channel
                for x in 0..<image.width {
                  out[row + x] = table[Int(input[s])]
                  s += c
                }
              }
            }
          }
        }
      }
    }
    imageSizes = samples.map { ($0.image.height, $0.image.width) }
    boxes = samples.map(\.boxes)
    labels = samples.map(\.labels)
    masks = samples.first!.masks == nil ? nil : samples.map { $0.masks ?? [] }
    records = samples.map(\.record)
    flipped = samples.map(\.isFlipped)
  }
}
