// Data loader throughput: raw JPEG decoding next to the full training pipeline (decode, resize
// to 800 on the shorter side, flip, normalise, pad and batch), with 1 and 2 worker threads.
// Run through benchmarks/data_loader.sh (release build).
import ArgumentParser
import Data
import Dispatch
import Foundation
import Torch

struct DataLoaderBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simpledet-bench-data", abstract: "Loader throughput (images/s) on a folder of generated JPEGs.")

  @Option(help: "Folder for the generated JPEGs (reused when it already holds them).")
  var folder = "/tmp/simpledet-bench-data"

  @Option(help: "How many images.")
  var images = 200

  @Option(help: "Image width and height.")
  var width = 640
  @Option var height = 480

  @Option(help: "Shorter side after resizing.")
  var shortSide = 800

  @Option(help: "Images per batch.")
  var batchSize = 2

  @Option(help: "Timed passes over the folder for each measurement; the median is reported.")
  var repeats = 3

  @Option(help: "Worker counts to measure, comma-separated (0: on the consuming thread).")
  var workers = "0,1,2"

  func run() throws {
    let root = URL(fileURLWithPath: folder)
    let annotations = try makeImages(root)
    let dataset = try COCOReader.read(annotations: annotations, images: root, policy: .fail)
    let files = try dataset.records.map { try Data(contentsOf: root.appendingPathComponent($0.fileName)) }
    let megapixels = Double(width * height) / 1e6
    let kib = files.reduce(0) { $0 + $1.count } / files.count / 1024
    print("\(images) JPEGs \(width)x\(height) (\(String(format: "%.2f", megapixels)) MP, ~\(kib) KiB each), batch \(batchSize), resize to \(shortSide) (max 1333), median of \(repeats)")
    print("load average before: \(loadAverage())")

    let decode = median { () -> Double in
      let start = DispatchTime.now()
      for data in files { _ = try! ImageCodec.decode(data, channels: 3) }
      return Double(files.count) / seconds(since: start)
    }
    report("raw decode (TurboJPEG, 1 thread)", decode, reference: nil)

    // The stages alone, on one thread, to show where the time goes.
    let target = ResizeShortestEdge.outputSize(width: width, height: height, shortSide: shortSide, maxSize: 1333)
    let decoded = try ImageCodec.decode(files[0], channels: 3)
    let resize = median { () -> Double in
      let start = DispatchTime.now()
      for _ in 0..<50 { _ = decoded.resized(width: target.width, height: target.height) }
      return 50 / seconds(since: start)
    }
    report("  resize \(width)x\(height) -> \(target.width)x\(target.height) alone", resize, reference: nil)
    let big = decoded.resized(width: target.width, height: target.height)
    let flip = median { () -> Double in
      let start = DispatchTime.now()
      for _ in 0..<50 { _ = big.flippedHorizontally() }
      return 50 / seconds(since: start)
    }
    report("  flip alone", flip, reference: nil)

    let transforms = TransformPipeline([ResizeShortestEdge(shortSide, maxSize: 1333), RandomHorizontalFlip()])
    for workers in self.workers.split(separator: ",").compactMap({ Int($0) }) {
      let loader = DataLoader(
        dataset: dataset, transforms: transforms,
        options: LoaderOptions(
          sampler: BatchSampler(batchSize: batchSize, seed: 0), workerCount: workers, prefetchBatches: 4, normalization: .imageNet))
      var epoch = 0
      let rate = median { () -> Double in
        let start = DispatchTime.now()
        var count = 0
        for batch in loader.epoch(epoch) { count += batch.count }
        epoch += 1
        return Double(count) / seconds(since: start)
      }
      let name = workers == 0 ? "pipeline on the consuming thread" : "pipeline, \(workers) worker\(workers == 1 ? "" : "s")"
      report(name, rate, reference: decode)
    }
    print("load average after: \(loadAverage())")
  }

  func makeImages(_ root: URL) throws -> URL {
    let annotations = root.appendingPathComponent("annotations.json")
    if let existing = try? COCOReader.read(annotations: annotations, images: root),
      existing.records.count == images, existing.records.allSatisfy({ $0.width == width && $0.height == height })
    {
      return annotations
    }
    try? FileManager.default.removeItem(at: root)
    try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
    // Shapes on a gradient with strong per-pixel noise: about as hard for JPEG as a photo.
    let side = min(width, height)
    let shapes = ShapesDataset(
      ShapesDataset.Configuration(imageCount: images, seed: 1, imageSides: side...side, objectSides: 30...min(200, side - 2)))
    var records: [DatasetRecord] = []
    var random = SeededRandom(seed: 2)
    for i in 0..<images {
      let (square, base, _) = shapes.rendered(at: i)
      var image = square.resized(width: width, height: height)
      for p in image.pixels.indices { image.pixels[p] = UInt8(clamping: Int(image.pixels[p]) + Int(random.next() % 49) - 24) }
      var record = base
      record.fileName = "images/\(i).jpg"
      record.instances = []
      record = DatasetRecord(imageId: i, fileName: record.fileName, width: width, height: height)
      try ImageCodec.encodeJPEG(image, quality: 90).write(to: root.appendingPathComponent(record.fileName))
      records.append(record)
    }
    try COCOWriter.encode(records: records, metadata: ShapesDataset.metadata).write(to: annotations)
    return annotations
  }

  func median(_ body: () -> Double) -> Double {
    _ = body()  // warm-up
    let values = (0..<repeats).map { _ in body() }.sorted()
    return values[values.count / 2]
  }

  func report(_ name: String, _ rate: Double, reference: Double?) {
    var line = name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: "%8.1f images/s", rate)
    if let reference { line += String(format: "   (%.0f%% of raw decode)", 100 * rate / reference) }
    print(line)
  }
}

func seconds(since start: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }

func loadAverage() -> String {
  (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
}

DataLoaderBenchmark.main()
