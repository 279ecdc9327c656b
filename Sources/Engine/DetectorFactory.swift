import Config
import Detection

extension ModelSection {
  /// The detector this section describes, with its seeded initialisation.
  public func makeDetector() -> any Detector {
    switch kind {
    case .fasterRCNN, .maskRCNN: FasterRCNN(fasterRCNN)
    case .retinaNet: RetinaNet(retinaNet)
    case .fcos: FCOS(fcos)
    }
  }
}
