import NN
import Torch

/// EfficientNet (Tan and Le 2019) as a feature extractor: torchvision's `efficientnet_b*`
/// `features` without its last 1×1 convolution, returning the configured stage outputs. Names
/// are torchvision's (`features.0` the stem, `features.1` … `features.7` the stages of MBConv
/// blocks), so an ImageNet classifier's state dict loads with the prefix `backbone.body.` (its
/// `features.8` and `classifier` left out).
public final class EfficientNet: Module {
  public let configuration: EfficientNetConfiguration
  /// The stem and the built stages (torchvision's `features`).
  let parts: Sequential

  public init(_ configuration: EfficientNetConfiguration, generator: Generator? = nil) {
    self.configuration = configuration
    let norm: (Int) -> any UnaryLayer = { channels in
      switch configuration.norm {
      case .frozenBatchNorm: FrozenBatchNorm2d(features: channels, epsilon: configuration.epsilon)
      case .syncBatchNorm:
        SyncBatchNorm2d(features: channels, epsilon: configuration.epsilon, momentum: configuration.momentum)
      default: BatchNorm2d(features: channels, epsilon: configuration.epsilon, momentum: configuration.momentum)
      }
    }
    let stem = ConvNormActivation(
      3, configuration.stemChannels, kernelSize: 3, stride: 2, padding: configuration.padding,
      norm: norm(configuration.stemChannels), activates: true, generator: generator)
    let stages = configuration.stages.prefix(configuration.builtStages).map { blocks in
      Sequential(blocks.map { MBConv($0, padding: configuration.padding, norm: norm, generator: generator) })
    }
    parts = Sequential([stem] + stages)
    super.init()
    EfficientNet.initialize(self, generator: generator)
    for part in parts.layers.prefix(Swift.max(configuration.frozenStages, 0)) { part.setRequiresGrad(false) }
  }

  override public var namedChildren: [(String, Module)] { [("features", parts)] }

  /// The outputs of `outFeatures`, finest first. The input is taken in channels-last layout, as
  /// the ResNet does, which oneDNN's convolutions run faster on.
  public func callAsFunction(_ images: Tensor) -> [Tensor] {
    var y = images.channelsLast()
    var byIndex: [Int: Tensor] = [:]
    for (index, part) in parts.layers.enumerated() {
      y = part(y)
      byIndex[index] = y
    }
    return configuration.outFeatures.compactMap { byIndex[EfficientNetConfiguration.featureIndex(of: $0)] }
  }

  /// torchvision's EfficientNet initialisation: He-normal (fan-out) convolutions with zero biases;
  /// norms start at one and zero.
  static func initialize(_ net: Module, generator: Generator?) {
    withNoGrad {
      for (_, module) in net.namedModules() {
        guard let conv = module as? Conv2d else { continue }
        Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
        if let bias = conv.bias { Initializer.constant(bias, 0) }
      }
    }
  }
}

extension EfficientNet: FeatureBody {
  public func features(_ images: Tensor) -> [Tensor] { self(images) }
  public var branches: Int { 1 }
}
