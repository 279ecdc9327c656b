import Foundation
import NN
import Torch

/// FCOS's convolution tower: four (3×3 convolution with bias, norm, ReLU) triples in one flat
/// sequence, so the convolutions are `conv.0`, `conv.3`, `conv.6`, `conv.9` and the norms
/// `conv.1`, `conv.4`, ... as in torchvision's `FCOSClassificationHead`.
func fcosHeadTower(channels: Int, norm: NormKind, generator: Generator?) -> Sequential {
  var layers: [any UnaryLayer] = []
  for _ in 0..<4 {
    let conv = Conv2d(channels, channels, kernelSize: 3, padding: 1, generator: generator)
    Initializer.normal(conv.weight, std: 0.01, generator: generator)
    Initializer.constant(conv.bias!, 0)
    layers += [conv, norm.make(channels), Activation.relu()]
  }
  return Sequential(layers)
}

/// FCOS's classification branch: the tower and per-location class logits, whose bias starts at
/// the prior probability of a foreground (torchvision's `FCOSClassificationHead`).
public final class FCOSClassificationHead: Module {
  let conv: Sequential
  let clsLogits: Conv2d
  public let classes: Int
  /// Activation checkpointing of the tower in training (`checkpoint` in the head's settings).
  var checkpointsTower = false

  public init(channels: Int, classes: Int, priorProbability: Double, norm: NormKind, generator: Generator?) {
    conv = fcosHeadTower(channels: channels, norm: norm, generator: generator)
    clsLogits = Conv2d(channels, classes, kernelSize: 3, padding: 1, generator: generator)
    Initializer.normal(clsLogits.weight, std: 0.01, generator: generator)
    Initializer.constant(clsLogits.bias!, -Foundation.log((1 - priorProbability) / priorProbability))
    self.classes = classes
    super.init()
  }

  /// Logits `[N, Σ H·W, classes]` over all levels, locations in row-major order.
  public func callAsFunction(_ features: [Tensor]) -> Tensor {
    flattenPredictions(features.map { clsLogits(checkpointedLayers(checkpointsTower, conv, $0, groupedBy: 3)) }, channels: classes)
  }
}

/// FCOS's box branch: the tower, then per location the distances to the box's four edges (in
/// units of the level's anchor size, kept non-negative by a ReLU) and a centerness logit
/// (torchvision's `FCOSRegressionHead`).
public final class FCOSRegressionHead: Module {
  let conv: Sequential
  let bboxReg: Conv2d
  let bboxCtrness: Conv2d
  /// Activation checkpointing of the tower in training (`checkpoint` in the head's settings).
  var checkpointsTower = false

  public init(channels: Int, norm: NormKind, generator: Generator?) {
    conv = fcosHeadTower(channels: channels, norm: norm, generator: generator)
    bboxReg = Conv2d(channels, 4, kernelSize: 3, padding: 1, generator: generator)
    bboxCtrness = Conv2d(channels, 1, kernelSize: 3, padding: 1, generator: generator)
    for layer in [bboxReg, bboxCtrness] {
      Initializer.normal(layer.weight, std: 0.01, generator: generator)
      Initializer.constant(layer.bias!, 0)
    }
    super.init()
  }

  /// Distances `[N, Σ H·W, 4]` and centerness logits `[N, Σ H·W]`.
  public func callAsFunction(_ features: [Tensor]) -> (distances: Tensor, centerness: Tensor) {
    let towers = features.map { checkpointedLayers(checkpointsTower, conv, $0, groupedBy: 3) }
    let distances = flattenPredictions(towers.map { bboxReg($0).relu() }, channels: 4)
    let centerness = flattenPredictions(towers.map { bboxCtrness($0) }, channels: 1).squeezed(axis: 2)
    return (distances, centerness)
  }
}

/// FCOS's two branches, shared by all pyramid levels (torchvision's `FCOSHead`), with the
/// locations and matching that train them (see `FCOS.swift`).
public final class FCOSHead: Module {
  public let classificationHead: FCOSClassificationHead
  public let regressionHead: FCOSRegressionHead
  public let configuration: FCOSHeadConfiguration
  /// One square anchor per location and level: the unit of the regressed distances.
  public let anchorGenerator: AnchorGenerator
  /// Sigmoid outputs per location.
  public let classes: Int
  let coder = BoxLinearCoder()

  public init(configuration: FCOSHeadConfiguration, channels: Int, classes: Int, generator: Generator?) {
    self.configuration = configuration
    self.classes = classes
    anchorGenerator = AnchorGenerator(
      sizes: configuration.anchorSizes.map { [$0] }, aspectRatios: Array(repeating: [1], count: configuration.anchorSizes.count))
    classificationHead = FCOSClassificationHead(
      channels: channels, classes: classes, priorProbability: configuration.priorProbability, norm: configuration.norm,
      generator: generator)
    regressionHead = FCOSRegressionHead(channels: channels, norm: configuration.norm, generator: generator)
    classificationHead.checkpointsTower = configuration.checkpoint
    regressionHead.checkpointsTower = configuration.checkpoint
    super.init()
  }

  /// Class logits `[N, L, classes]`, edge distances `[N, L, 4]` and centerness logits `[N, L]`
  /// for the `L` locations of all levels.
  public func callAsFunction(_ features: [Tensor]) -> (logits: Tensor, distances: Tensor, centerness: Tensor) {
    let (distances, centerness) = regressionHead(features)
    return (classificationHead(features), distances, centerness)
  }
}
