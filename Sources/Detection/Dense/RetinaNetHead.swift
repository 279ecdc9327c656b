import Foundation
import NN
import Torch

/// Four 3×3 convolutions, each followed by an optional normalisation and a ReLU, as torchvision's
/// `Conv2dNormActivation` tower of the RetinaNet and FCOS heads (`conv.i.0` the convolution,
/// `conv.i.1` the norm). A convolution followed by a norm has no bias.
func denseHeadTower(channels: Int, norm: NormKind?, generator: Generator?) -> Sequential {
  let blocks = (0..<4).map { _ -> any UnaryLayer in
    let conv = Conv2d(channels, channels, kernelSize: 3, padding: 1, bias: norm == nil, generator: generator)
    Initializer.normal(conv.weight, std: 0.01, generator: generator)
    if let bias = conv.bias { Initializer.constant(bias, 0) }
    let layers: [any UnaryLayer] = [conv] + (norm.map { [$0.make(channels)] } ?? []) + [Activation.relu()]
    return Sequential(layers)
  }
  return Sequential(blocks)
}

/// A branch's convolution tower as the head runs it on pyramid level `level`.
protocol RetinaNetTower: Module {
  /// The tower on level `level`, each block a checkpointed segment in training when
  /// `checkpointing`.
  func callAsFunction(_ x: Tensor, level: Int, checkpointing: Bool) -> Tensor
}

extension Sequential: RetinaNetTower {
  /// The same layers at every level.
  func callAsFunction(_ x: Tensor, level: Int, checkpointing: Bool) -> Tensor { checkpointedLayers(checkpointing, self, x) }
}

/// Four 3×3 convolutions without bias, shared by all pyramid levels, each followed by a norm of
/// the level's own and a ReLU: mmdetection's `RetinaSepBNHead` (NAS-FPN's RetinaNet), where only
/// the convolutions are shared. Named as `denseHeadTower` with the norm slot holding one norm per
/// level: `i.0` the convolution of block i, `i.1.L` its norm at level L.
final class LevelNormTower: Module, RetinaNetTower {
  let convs: [Conv2d]
  /// `norms[i][L]`: block i's norm at level L.
  let norms: [[any UnaryLayer]]

  init(channels: Int, levels: Int, norm: NormKind, generator: Generator?) {
    convs = (0..<4).map { _ in
      let conv = Conv2d(channels, channels, kernelSize: 3, padding: 1, bias: false, generator: generator)
      Initializer.normal(conv.weight, std: 0.01, generator: generator)
      return conv
    }
    norms = convs.map { _ in (0..<levels).map { _ in norm.make(channels) } }
    super.init()
  }

  override var namedChildren: [(String, Module)] {
    zip(convs, norms).enumerated().flatMap { i, block in
      [("\(i).0", block.0 as Module)] + block.1.enumerated().map { level, norm in ("\(i).1.\(level)", norm as Module) }
    }
  }

  func callAsFunction(_ x: Tensor, level: Int, checkpointing: Bool) -> Tensor {
    precondition(level < norms[0].count, "the head was built for \(norms[0].count) levels, got level \(level)")
    var h = x
    for (conv, levelNorms) in zip(convs, norms) {
      h = checkpointedWhenTraining(checkpointing, self, h) { normalized(conv, levelNorms[level], $0).relu() }
    }
    return h
  }
}

/// The tower of one branch: `denseHeadTower` shared by all levels, or with a norm per level
/// (`RetinaNetHeadConfiguration.normPerLevel`).
func retinaNetTower(channels: Int, levels: Int, norm: NormKind?, normPerLevel: Bool, generator: Generator?) -> any RetinaNetTower {
  guard normPerLevel, let norm else { return denseHeadTower(channels: channels, norm: norm, generator: generator) }
  return LevelNormTower(channels: channels, levels: levels, norm: norm, generator: generator)
}

/// RetinaNet's classification branch: the convolution tower and per-anchor class logits, whose
/// bias starts at the prior probability of a foreground (torchvision's
/// `RetinaNetClassificationHead`).
public final class RetinaNetClassificationHead: Module {
  let conv: any RetinaNetTower
  let clsLogits: Conv2d
  public let classes: Int
  /// Activation checkpointing of the tower in training (`checkpoint` in the head's settings).
  var checkpointsTower = false

  /// `levels` and `normPerLevel`: see `RetinaNetHeadConfiguration.normPerLevel`.
  public init(
    channels: Int, anchorsPerLocation: Int, classes: Int, priorProbability: Double, norm: NormKind?, levels: Int = 5,
    normPerLevel: Bool = false, generator: Generator?
  ) {
    conv = retinaNetTower(channels: channels, levels: levels, norm: norm, normPerLevel: normPerLevel, generator: generator)
    clsLogits = Conv2d(channels, anchorsPerLocation * classes, kernelSize: 3, padding: 1, generator: generator)
    Initializer.normal(clsLogits.weight, std: 0.01, generator: generator)
    // Focal loss starts from rare foregrounds, so the initial logits say "background" everywhere
    // and the first iterations are not swamped by the loss of easy negatives.
    Initializer.constant(clsLogits.bias!, -Foundation.log((1 - priorProbability) / priorProbability))
    self.classes = classes
    super.init()
  }

  /// Logits `[N, Σ H·W·A, classes]` over all levels, in the anchor order of `AnchorGenerator`.
  public func callAsFunction(_ features: [Tensor]) -> Tensor {
    flattenPredictions(
      features.enumerated().map { clsLogits(conv($1, level: $0, checkpointing: checkpointsTower)) }, channels: classes)
  }
}

/// RetinaNet's box branch: the convolution tower and per-anchor box offsets (torchvision's
/// `RetinaNetRegressionHead`).
public final class RetinaNetRegressionHead: Module {
  let conv: any RetinaNetTower
  let bboxReg: Conv2d
  /// Activation checkpointing of the tower in training (`checkpoint` in the head's settings).
  var checkpointsTower = false

  public init(channels: Int, anchorsPerLocation: Int, norm: NormKind?, levels: Int = 5, normPerLevel: Bool = false, generator: Generator?) {
    conv = retinaNetTower(channels: channels, levels: levels, norm: norm, normPerLevel: normPerLevel, generator: generator)
    bboxReg = Conv2d(channels, anchorsPerLocation * 4, kernelSize: 3, padding: 1, generator: generator)
    Initializer.normal(bboxReg.weight, std: 0.01, generator: generator)
    Initializer.constant(bboxReg.bias!, 0)
    super.init()
  }

  /// Offsets `[N, Σ H·W·A, 4]` over all levels, in the anchor order of `AnchorGenerator`.
  public func callAsFunction(_ features: [Tensor]) -> Tensor {
    flattenPredictions(features.enumerated().map { bboxReg(conv($1, level: $0, checkpointing: checkpointsTower)) }, channels: 4)
  }
}

/// RetinaNet's two branches, shared by all pyramid levels (torchvision's `RetinaNetHead`; with
/// `normPerLevel`, all but the norms, as mmdetection's `RetinaSepBNHead`), with
/// the anchors and matching that train them (see `RetinaNet.swift`).
public final class RetinaNetHead: Module {
  public let classificationHead: RetinaNetClassificationHead
  public let regressionHead: RetinaNetRegressionHead
  public let configuration: RetinaNetHeadConfiguration
  public let anchorGenerator: AnchorGenerator
  /// Sigmoid outputs per anchor.
  public let classes: Int
  let coder = BoxCoder(weights: (1, 1, 1, 1))
  let matcher: Matcher

  /// A head reading maps of `channels` channels, one level per entry of the anchor sizes
  /// (the config checks the levels agree).
  public init(configuration: RetinaNetHeadConfiguration, channels: Int, classes: Int, generator: Generator?) {
    self.configuration = configuration
    self.classes = classes
    anchorGenerator = AnchorGenerator(
      sizes: configuration.anchorSizes, aspectRatios: configuration.aspectRatios, roundsBaseAnchors: configuration.roundAnchors,
      strides: configuration.anchorStrides)
    let perLocation = Set(anchorGenerator.anchorsPerLocation)
    precondition(perLocation.count == 1, "RetinaNet needs the same number of anchors per location at every level")
    classificationHead = RetinaNetClassificationHead(
      channels: channels, anchorsPerLocation: perLocation.first!, classes: classes,
      priorProbability: configuration.priorProbability, norm: configuration.norm, levels: configuration.anchorSizes.count,
      normPerLevel: configuration.normPerLevel, generator: generator)
    regressionHead = RetinaNetRegressionHead(
      channels: channels, anchorsPerLocation: perLocation.first!, norm: configuration.norm,
      levels: configuration.anchorSizes.count, normPerLevel: configuration.normPerLevel, generator: generator)
    classificationHead.checkpointsTower = configuration.checkpoint
    regressionHead.checkpointsTower = configuration.checkpoint
    matcher = Matcher(
      highThreshold: configuration.foregroundIoU, lowThreshold: configuration.backgroundIoU,
      allowLowQualityMatches: configuration.allowLowQualityMatches)
    super.init()
  }

  /// Class logits `[N, Σ H·W·A, classes]` and box offsets `[N, Σ H·W·A, 4]`.
  public func callAsFunction(_ features: [Tensor]) -> (logits: Tensor, offsets: Tensor) {
    (classificationHead(features), regressionHead(features))
  }
}
