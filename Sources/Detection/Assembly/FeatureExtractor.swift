import NN
import Torch

/// The backbone and the neck together, named `body` and `fpn` as torchvision's
/// `BackboneWithFPN` (a detector holds it as `backbone`), so torchvision's state dicts load.
public final class FeatureExtractor: Module {
  public let body: any FeatureBody
  /// The neck (an FPN, NAS-FPN, BiFPN or YOLOv3's); nil when the neck is `none`.
  public let fpn: (any Neck)?
  /// Channels and stride of each output map, finest first.
  public let outputShapes: [FeatureMapShape]
  /// The leading outputs computed from backbone maps, before the neck's extra levels: RoI heads
  /// pool from these (torchvision's `featmap_names` leave out the `pool` level).
  public let poolableLevels: Int
  /// Whether training recomputes the neck in backward (`model.neck.checkpoint`).
  let checkpointsNeck: Bool

  public init(backbone: BackboneConfiguration, neck: NeckConfiguration, generator: Generator) {
    body = backbone.make(generator: generator)
    let inputs = backbone.outputShapes
    switch neck {
    case .none:
      fpn = nil
    case .fpn(let c):
      fpn = FeaturePyramidNetwork(
        inputChannels: inputs.map(\.channels), outputChannels: c.channels, extra: c.extraLevels, norm: c.norm,
        extraInput: c.extraInput, reluBeforeP7: c.reluBeforeP7, lateralNorm: c.lateralNorm, extraNorm: c.extraNorm,
        generator: generator)
    case .nasFPN(let c):
      fpn = NASFPN(inputChannels: inputs.map(\.channels), configuration: c, generator: generator)
    case .yolov3(let c):
      fpn = YOLOV3Neck(inputChannels: inputs.map(\.channels), configuration: c, generator: generator)
    case .biFPN(let c):
      fpn = BiFPN(inputChannels: inputs.map(\.channels), configuration: c, generator: generator)
    }
    outputShapes = neck.outputShapes(input: inputs)
    poolableLevels = inputs.count
    checkpointsNeck = neck.checkpoint
    super.init()
  }

  /// The output maps, finest first.
  public func callAsFunction(_ images: Tensor) -> [Tensor] {
    let features = body.features(images)
    guard let fpn else { return features }
    return checkpointedWhenTraining(checkpointsNeck, fpn, features, fpn.callAsFunction)
  }
}
