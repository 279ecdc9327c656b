import NN
import Torch

/// What the trainer, the evaluator and the command line need of a detector, whatever its
/// architecture (two-stage like Faster R-CNN, dense like RetinaNet).
public protocol Detector: Module {
  /// Detections for `images` (each `[3, H, W]`, float in [0, 1]) in original image pixels:
  /// fields `boxes` `[N, 4]`, `scores` `[N]`, `labels` `[N]` (1-based, 0 is background), and
  /// `masks` `[N, 1, H, W]` probabilities for detectors with masks. Call `eval()` first.
  ///
  /// Sigmoid detectors (RetinaNet, FCOS) have no background class: their labels index their
  /// outputs, `0..<classes`. Trained on labels `1..<classes`, their output 0 only ever sees
  /// negatives and its scores stay low, so both conventions meet (torchvision's COCO models use
  /// the COCO ids either way).
  func detect(_ images: [Tensor]) -> [Instances]
  /// The training losses for `images` and their `targets` (fields `boxes` in image pixels,
  /// `labels` in 1..<classes, and `masks` `[N, H, W]` for detectors with masks), by name.
  func losses(_ images: [Tensor], targets: [Instances]) -> [String: Tensor]
  /// What only inference reads: the test resize, the score threshold, the detections kept.
  var inference: InferenceSettings { get set }
  /// The generator training's random choices use (sizes, samplers).
  var generator: Generator { get }
  /// Whether `detect` returns masks and `losses` needs them.
  var hasMasks: Bool { get }
}

extension Detector {
  /// The state of `generator`, so that a resumed run draws what an uninterrupted one would.
  public var randomState: [UInt8] { generator.state }

  public func restoreRandomState(_ state: [UInt8]) throws {
    try generator.restore(state: state)
  }
}
