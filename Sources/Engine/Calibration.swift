import Config
import Data
import Detection
import Foundation
import NN
import Torch

/// Post-training quantization's calibration: the input ranges of a model's fake quantizers
/// (`model.quantize`) observed on training images in inference, without training. It is the
/// baseline quantization-aware training should beat.
public enum Calibration {
  /// Runs `model` in inference over the first `images` training images of `config` (at test
  /// sizes, `test.batch_size` at a time) with its quantizers observing from scratch, then
  /// leaves them quantizing with those ranges. Returns how many images were seen.
  @discardableResult
  public static func calibrate(
    _ model: any Detector, config: SimpleDetConfig, images: Int, progress: ((Int, Int) -> Void)? = nil
  ) throws -> Int {
    guard config.model.quantize != nil else {
      throw EngineError("--calibrate needs model.quantize in the config: it calibrates the quantized layers' input ranges")
    }
    guard images > 0 else { throw EngineError("--calibrate needs a number of images above 0, got \(images)") }
    let dataset = try RunData.dataset(config.data, split: .train)
    let count = min(images, dataset.count)
    let options = LoaderOptions(
      sampler: BatchSampler(batchSize: config.test.batchSize, shuffle: false, groupsImages: false, dropLast: false),
      workerCount: config.data.workers, normalization: .unit)
    let loader = DataLoader(dataset: dataset, transforms: TransformPipeline([any Transform]()), options: options)
    model.eval()
    model.setFakeQuantizersCalibrating(true)
    defer { model.setFakeQuantizersCalibrating(false) }
    var done = 0
    for batch in loader.epoch(0) {
      if done >= count { break }
      let images = (0..<min(batch.count, count - done)).map { batch.image($0) }
      _ = withPrecision(config.runtime.precision) { model.detect(images) }
      done += images.count
      progress?(done, count)
    }
    return done
  }
}
