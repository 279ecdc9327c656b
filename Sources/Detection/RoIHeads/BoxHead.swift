import NN
import Torch

/// Two fully connected layers with ReLU over flattened pooled features (torchvision's
/// `TwoMLPHead`: `fc6`, `fc7`).
public final class TwoMLPHead: Module {
  let fc6: Linear
  let fc7: Linear

  public init(inputFeatures: Int, representationSize: Int, generator: Generator? = nil) {
    fc6 = Linear(inputFeatures, representationSize, generator: generator)
    fc7 = Linear(representationSize, representationSize, generator: generator)
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    fc7(fc6(x.flattened(from: 1)).relu()).relu()
  }
}

/// Class scores and per-class box offsets (torchvision's `FastRCNNPredictor`: `cls_score`,
/// `bbox_pred`). Class 0 is background.
public final class FastRCNNPredictor: Module {
  let clsScore: Linear
  let bboxPred: Linear

  public init(inputFeatures: Int, classes: Int, generator: Generator? = nil) {
    clsScore = Linear(inputFeatures, classes, generator: generator)
    bboxPred = Linear(inputFeatures, classes * 4, generator: generator)
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> (scores: Tensor, offsets: Tensor) {
    let flat = x.rank > 2 ? x.flattened(from: 1) : x
    return (clsScore(flat), bboxPred(flat))
  }
}
