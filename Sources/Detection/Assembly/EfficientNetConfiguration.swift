import Foundation
import NN

/// EfficientNet's settings (`backbone: {kind: efficientnet, variant: b0, ...}`). The defaults are
/// torchvision's `efficientnet_b0` as a detection backbone: trained batch norm, nothing frozen,
/// stochastic depth 0.2, and the maps at strides 8, 16 and 32.
public struct EfficientNetConfiguration: Codable, Equatable, Sendable {
  /// B0 to B7: the width and depth multipliers of Tan and Le's compound scaling, as torchvision's
  /// `efficientnet_b*` (whose ImageNet weights load).
  public var variant = EfficientNetVariant.b0
  /// `BN`, `SyncBN` or `FrozenBN`. Group norm does not fit (EfficientNet's stages have 16, 24, 40 channels).
  public var norm = NormKind.batchNorm
  /// The batch norms' epsilon; null takes torchvision's for the variant (1e-5 for B0–B4, 1e-3 for
  /// B5–B7, whose weights were trained with it).
  @Nullable public var normEpsilon: Double? = nil
  /// The batch norms' momentum; null takes torchvision's for the variant (0.1 for B0–B4, 0.01 for
  /// B5–B7).
  @Nullable public var normMomentum: Double? = nil
  /// Parts whose parameters are frozen, counted as torchvision's `features`: 0 trains everything,
  /// 1 freezes the stem (`features.0`), k the stem and the first k − 1 stages, 8 all.
  public var frozenStages = 0
  /// The stage outputs handed on, finest first: `c2` (stride 4, `features.2`), `c3` (8,
  /// `features.3`), `c4` (16, `features.5`), `c5` (32, `features.7`). Stages after the last one
  /// named are not built; torchvision's 1×1 head convolution (`features.8`) never is.
  public var outFeatures: [ResNetFeature] = [.c3, .c4, .c5]
  /// Stochastic depth in training: the last block's chance of dropping its residual branch; block
  /// i of n drops with `probability × i / n` (torchvision's 0.2). Never applied at test time.
  public var stochasticDepth = 0.2
  /// The width multiplier; null takes the variant's. Smaller values give narrow networks for small
  /// problems (their weights are not torchvision's).
  @Nullable public var widthMultiplier: Double? = nil
  /// The depth multiplier; null takes the variant's.
  @Nullable public var depthMultiplier: Double? = nil
  /// How convolutions pad: `symmetric` (torchvision) or `same` (TensorFlow's, the original and
  /// mmdetection's EfficientNets).
  public var padding = ConvolutionPadding.symmetric

  public init(variant: EfficientNetVariant = .b0, outFeatures: [ResNetFeature] = [.c3, .c4, .c5]) {
    self.variant = variant
    self.outFeatures = outFeatures
  }

  /// The width multiplier in use.
  public var width: Double { widthMultiplier ?? variant.scaling.width }
  /// The depth multiplier in use.
  public var depth: Double { depthMultiplier ?? variant.scaling.depth }
  /// The batch norms' epsilon in use.
  public var epsilon: Double { normEpsilon ?? (variant.usesSlowBatchNorm ? 1e-3 : 1e-5) }
  /// The batch norms' momentum in use.
  public var momentum: Double { normMomentum ?? (variant.usesSlowBatchNorm ? 0.01 : 0.1) }

  /// EfficientNet-B0's stages (the paper's Table 1, torchvision's `bneck_conf` rows) before scaling.
  static let baseStages: [(expandRatio: Int, kernelSize: Int, stride: Int, input: Int, output: Int, layers: Int)] = [
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
  ]

  /// torchvision's `_make_divisible(v, 8)`: the nearest multiple of 8, at least 8, never more
  /// than 10% below `v`.
  static func divisibleByEight(_ v: Double) -> Int {
    var rounded = Swift.max(8, Int(v + 4) / 8 * 8)
    if Double(rounded) < 0.9 * v { rounded += 8 }
    return rounded
  }

  /// The stem's output channels.
  var stemChannels: Int { Self.divisibleByEight(32 * width) }

  /// The blocks of each of the seven stages, scaled, with their stochastic depth.
  var stages: [[MBConvSpec]] {
    let counts = Self.baseStages.map { Int((Double($0.layers) * depth).rounded(.up)) }
    let total = counts.reduce(0, +)
    var index = 0
    return zip(Self.baseStages, counts).map { stage, count in
      let input = Self.divisibleByEight(Double(stage.input) * width)
      let output = Self.divisibleByEight(Double(stage.output) * width)
      return (0..<count).map { b in
        defer { index += 1 }
        return MBConvSpec(
          inputChannels: b == 0 ? input : output, outputChannels: output, expandRatio: stage.expandRatio,
          kernelSize: stage.kernelSize, stride: b == 0 ? stage.stride : 1,
          stochasticDepth: stochasticDepth * Double(index) / Double(total))
      }
    }
  }

  /// The `features` index whose output is `feature` (1–7 are the stages).
  static func featureIndex(of feature: ResNetFeature) -> Int {
    switch feature {
    case .c2: 2
    case .c3: 3
    case .c4: 5
    case .c5: 7
    }
  }

  /// Channels and stride of each of `outFeatures`.
  public var outputShapes: [FeatureMapShape] {
    let stages = self.stages
    return outFeatures.map { feature in
      FeatureMapShape(channels: stages[Self.featureIndex(of: feature) - 1].last?.outputChannels ?? 0, stride: feature.stride)
    }
  }

  /// The stages built: up to the last of `outFeatures`.
  var builtStages: Int { outFeatures.map(Self.featureIndex(of:)).max() ?? 7 }
}

/// EfficientNet's compound-scaled sizes, as torchvision's `efficientnet_b0` … `efficientnet_b7`.
public enum EfficientNetVariant: String, ConfigChoice, Sendable {
  case b0, b1, b2, b3, b4, b5, b6, b7

  /// torchvision's `width_mult` and `depth_mult`.
  public var scaling: (width: Double, depth: Double) {
    switch self {
    case .b0: (1.0, 1.0)
    case .b1: (1.0, 1.1)
    case .b2: (1.1, 1.2)
    case .b3: (1.2, 1.4)
    case .b4: (1.4, 1.8)
    case .b5: (1.6, 2.2)
    case .b6: (1.8, 2.6)
    case .b7: (2.0, 3.1)
    }
  }

  /// Whether torchvision builds the variant with `BatchNorm2d(eps=0.001, momentum=0.01)` (B5–B7).
  var usesSlowBatchNorm: Bool { [.b5, .b6, .b7].contains(self) }
}
