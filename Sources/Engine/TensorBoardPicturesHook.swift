import Data
import Foundation

/// At every evaluation (`runtime.eval_period`, and at the end), draws the model's detections
/// with a score of at least `scoreThreshold` on the first test images into the TensorBoard
/// event file, as images tagged `predictions/<k>`.
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
    for index in 0..<min(count, dataset.count) {
      let image = try dataset.image(at: index)
      let found = predictor.predict(image, fileName: dataset.records[index].fileName).filter { $0.score >= scoreThreshold }
      let picture = predictor.picture(image, detections: found)
      try events.addImage(
        tag: "predictions/\(index)", png: try ImageCodec.encodePNG(picture), height: picture.height, width: picture.width,
        step: trainer.state.iteration)
    }
  }
}
