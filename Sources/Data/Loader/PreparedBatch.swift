/// A batch as the workers hand it over: plain arrays only (no tensors), so it crosses threads
/// safely; the consuming thread turns it into a `Batch` with one copy per tensor.
struct PreparedBatch: Sendable {
  var epoch: Int
  /// The batch's position in its epoch.
  var index: Int
  var height = 0
  var width = 0
  /// `[count, 3, height, width]` floats, normalised, zero beyond each image's size; the buffer
  /// comes from a pool and may be longer than that (`pixelCount`).
  var pixels: [Float] = []
  var pixelCount = 0
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
  init(epoch: Int, index: Int, samples: [Sample], skipped: [DataIssue], tables: [[Float]], padStride: Int, pool: BufferPool) {
    self.init(epoch: epoch, index: index)
    self.skipped = skipped
    guard !samples.isEmpty else { return }
    let stride = padStride
    height = (samples.map(\.image.height).max()! + stride - 1) / stride * stride
    width = (samples.map(\.image.width).max()! + stride - 1) / stride * stride
    let plane = height * width
    // Padding is 0 after normalisation, as detectron2 and torchvision pad. Only the padding is
    // zeroed: clearing the whole buffer first would write every byte twice.
    let w = width
    let h = height
    pixelCount = samples.count * 3 * plane
    pixels = pool.take(count: pixelCount)
    pixels.withUnsafeMutableBufferPointer { buffer in
      let out = buffer.baseAddress!
      for (n, sample) in samples.enumerated() {
        let image = sample.image
        let c = image.channels
        image.pixels.withUnsafeBufferPointer { inputBuffer in
          let input = inputBuffer.baseAddress!
          for k in 0..<3 {
            tables[k].withUnsafeBufferPointer { tableBuffer in
              let table = tableBuffer.baseAddress!
              let channel = c >= 3 ? k : 0
              let base = out + (n * 3 + k) * plane
              for y in 0..<image.height {
                let row = base + y * w
                let source = input + y * image.width * c + channel
                for x in 0..<image.width { row[x] = table[Int(source[x &* c])] }
                if image.width < w { (row + image.width).update(repeating: 0, count: w - image.width) }
              }
              if image.height < h { (base + image.height * w).update(repeating: 0, count: (h - image.height) * w) }
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
