import Data
import Foundation

/// At every evaluation (`runtime.eval_period`, and at the end), draws the model's detections
/// with a score of at least `scoreThreshold` on the first test images into the TensorBoard
/// event file, as images tagged `predictions/<k>`. Images that cannot be read are passed over
/// (the data loader names them), as evaluation passes over them.
public final class TensorBoardPicturesHook: TrainerHook {
  let events: TensorBoardWriter
  let dataset: Dataset
  let count: Int
  let scoreThreshold: Double

  public init(events: TensorBoardWriter, dataset: Dataset, count: Int = 4, scoreThreshold: Double = 0.5) {
    self.events = events
    self.dataset = dataset
    self.count = count
    self.scoreThreshold = scoreThreshold
  }

  public func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    if trainer.evaluatesAfter(step) { try draw(trainer) }
  }

  public func afterTraining(_ trainer: Trainer) throws {
    try draw(trainer)
  }

  func draw(_ trainer: Trainer) throws {
    let model = trainer.model
    let wasTraining = model.isTraining
    model.eval()
    defer { if wasTraining { model.train() } }
    let predictor = Predictor(model: model, classes: trainer.classes, precision: trainer.config.runtime.precision)
    var drawn = 0
    for index in 0..<dataset.count where drawn < count {
      guard let image = try? dataset.image(at: index) else { continue }
      drawn += 1
      let found = predictor.predict(image, fileName: dataset.records[index].fileName).filter { $0.score >= scoreThreshold }
      let picture = predictor.picture(image, detections: found)
      try events.addImage(
        tag: "predictions/\(index)", png: try ImageCodec.encodePNG(picture), height: picture.height, width: picture.width,
        step: trainer.state.iteration)
    }
  }
}
