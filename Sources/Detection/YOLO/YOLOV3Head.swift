import Foundation
import NN
import Torch

/// YOLOv3's head (mmdetection's `YOLOV3Head`): per level a 3×3 bridge convolution with norm and
/// leaky ReLU (`convs_bridge.i`) and a 1×1 prediction (`convs_pred.i`) of, per anchor, the box
/// centre in its cell and log size (4, before the sigmoid and the exponential), the objectness
/// (1) and the class logits. Levels are indexed coarsest first, as mmdetection's (`convs_pred.0`
/// reads stride 32), so its checkpoints load; the maps arrive finest first, as every neck gives them.
public final class YOLOV3Head: Module {
  public let configuration: YOLOV3HeadConfiguration
  /// Sigmoid class outputs per anchor.
  public let classes: Int
  /// The input levels, finest first.
  public let levels: [FeatureMapShape]
  let convsBridge: [DarknetConv]
  let convsPred: [Conv2d]

  /// Outputs per anchor: box (4), objectness (1), classes.
  public var attributes: Int { 5 + classes }

  /// A head reading `levels` (finest first; the config checks there is one anchor list each).
  public init(configuration: YOLOV3HeadConfiguration, levels: [FeatureMapShape], classes: Int, generator: Generator?) {
    self.configuration = configuration
    self.classes = classes
    self.levels = levels
    let bridge = configuration.bridgeChannels(input: levels.map(\.channels))
    let anchors = configuration.anchorsPerLocation
    // Coarsest first, as mmdetection numbers them.
    let order = Array(levels.indices.reversed())
    convsBridge = order.map { DarknetConv(levels[$0].channels, bridge[$0], kernelSize: 3, norm: configuration.norm, generator: generator) }
    convsPred = order.map { Conv2d(bridge[$0], anchors * (5 + classes), kernelSize: 1, generator: generator) }
    super.init()
    initialize(generator: generator)
  }

  /// mmdetection's `init_weights`: every convolution normal with std 0.01; the prediction's
  /// objectness bias at the prior of 8 objects per 608-pixel image at that stride, its class
  /// biases at probability 0.01 (so the first iterations are not swamped by confident mistakes).
  private func initialize(generator: Generator?) {
    for conv in convsBridge.map(\.conv) + convsPred {
      Initializer.normal(conv.weight, std: 0.01, generator: generator)
    }
    for (pred, level) in zip(convsPred, levels.reversed()) {
      guard let bias = pred.bias else { continue }
      let objectness = Self.logit(8 / pow(608 / Double(level.stride), 2))
      let perAnchor = (0..<attributes).map { a -> Float in
        a < 4 ? 0 : a == 4 ? Float(objectness) : Float(Self.logit(0.01))
      }
      let values = Array([[Float]](repeating: perAnchor, count: configuration.anchorsPerLocation).joined())
      withNoGrad { bias.copy(from: Tensor(values, shape: [values.count])) }
    }
  }

  /// mmengine's `bias_init_with_prob`: the logit whose sigmoid is `probability`.
  static func logit(_ probability: Double) -> Double { -Foundation.log((1 - probability) / probability) }

  override public var namedChildren: [(String, Module)] {
    convsBridge.enumerated().map { ("convs_bridge.\($0)", $1 as Module) } + convsPred.enumerated().map { ("convs_pred.\($0)", $1 as Module) }
  }

  /// Per level, coarsest first, the raw predictions `[N, H·W·A, 5 + classes]` (location-major,
  /// then anchor, as mmdetection flattens them), in float32.
  public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
    zip(features.reversed(), zip(convsBridge, convsPred)).map { feature, convs in
      let bridged = convs.0(feature)
      let map = computedInFloat32(bridged) { convs.1($0) }
      let s = map.shape
      return map.permuted(0, 2, 3, 1).reshaped([s[0], -1, attributes])
    }
  }
}
