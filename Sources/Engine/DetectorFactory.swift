import Config
import Detection

extension ModelSection {
  /// The detector this section describes, with its seeded initialisation.
  public func makeDetector() -> any Detector {
    switch kind {
    case .fasterRCNN, .maskRCNN: FasterRCNN(fasterRCNN)
    }
  }

  /// The number of classes the detector predicts, background included.
  public var classes: Int { fasterRCNN.classes }
}
