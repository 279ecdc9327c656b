import NN
import Torch

/// What a neck does: the backbone's maps in, the heads' maps out, finest first.
public protocol Neck: Module {
  func callAsFunction(_ features: [Tensor]) -> [Tensor]
}

extension FeaturePyramidNetwork: Neck {}

/// NAS-FPN's settings (`model.neck: {kind: nas_fpn}`). The defaults are the paper's RetinaNet
/// neck as mmdetection builds it (`retinanet_r50_nasfpn`).
public struct NASFPNConfiguration: Codable, Equatable, Sendable {
  /// Channels of every level.
  public var channels = 256
  /// How many times the merging cells are stacked (the paper's RetinaNet: 7).
  public var repeats = 7
  /// Normalisation after the lateral, extra-level and cell-output convolutions (null: none).
  @Nullable public var norm: NormKind? = .batchNorm
  /// Activation checkpointing in training: keep only the neck's inputs and recompute the merging
  /// cells in backward.
  public var checkpoint = false

  public init(channels: Int = 256, repeats: Int = 7, norm: NormKind? = .batchNorm) {
    self.channels = channels
    self.repeats = repeats
    self.norm = norm
  }
}

/// A convolution with an optional normalisation after it and an optional ReLU before it, named
/// as mmcv's `ConvModule` (`conv`, then `bn` or `gn`).
final class ConvNorm: Module, UnaryLayer {
  let conv: Conv2d
  let norm: (any UnaryLayer)?
  let normName: String
  let activationFirst: Bool

  init(_ input: Int, _ output: Int, kernelSize: Int, bias: Bool, norm: NormKind?, activationFirst: Bool, generator: Generator?) {
    conv = Conv2d(input, output, kernelSize: kernelSize, padding: kernelSize / 2, bias: bias, generator: generator)
    // mmdetection's NAS-FPN initialisation: Xavier-uniform-like (He uniform with a = 1), zero bias.
    Initializer.kaimingUniform(conv.weight, nonlinearity: .leakyRelu(negativeSlope: 1), generator: generator)
    if let b = conv.bias { Initializer.constant(b, 0) }
    self.norm = norm?.make(output)
    normName = norm == .groupNorm ? "gn" : "bn"
    self.activationFirst = activationFirst
    super.init()
  }

  override var namedChildren: [(String, Module)] {
    [("conv", conv)] + [norm as? Module].compactMap { $0.map { (normName, $0) } }
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let input = activationFirst ? x.relu() : x
    guard let norm else { return conv(input) }
    return normalized(conv, norm, input)
  }
}

/// One of NAS-FPN's merging cells: both inputs brought to the output size (nearest upsampling,
/// or max pooling after zero padding to a multiple), combined by a sum or by global-pooling
/// attention (`x2 + sigmoid(mean(x2)) · x1`), then optionally ReLU, 3×3 convolution and norm.
final class MergeCell: Module {
  enum Operation { case sum, globalPooling }

  let operation: Operation
  let outConv: ConvNorm?

  init(_ operation: Operation, channels: Int, outputConvolution: Bool, norm: NormKind?, generator: Generator?) {
    self.operation = operation
    outConv =
      outputConvolution
      ? ConvNorm(channels, channels, kernelSize: 3, bias: true, norm: norm, activationFirst: true, generator: generator)
      : nil
    super.init()
  }

  func callAsFunction(_ x1: Tensor, _ x2: Tensor, size: (Int, Int)) -> Tensor {
    let a = Self.resized(x1, to: size)
    let b = Self.resized(x2, to: size)
    let merged: Tensor =
      switch operation {
      case .sum: a + b
      case .globalPooling: b + b.mean(axes: [2, 3], keepingDimensions: true).sigmoid() * a
      }
    return outConv?(merged) ?? merged
  }

  /// mmcv's `BaseMergeCell._resize`: a map that is not larger (compared as mmcv does, height
  /// first) is upsampled by nearest neighbours; a larger one is padded with zeros on both sides
  /// to a multiple of the target and max-pooled by the ratio.
  static func resized(_ x: Tensor, to size: (Int, Int)) -> Tensor {
    let (h, w) = (x.shape[2], x.shape[3])
    if (h, w) == size { return x }
    if h < size.0 || (h == size.0 && w < size.1) {
      return Functional.interpolate(x, size: size, mode: .nearest)
    }
    let kernel = ((h + size.0 - 1) / size.0, (w + size.1 - 1) / size.1)
    let (padH, padW) = (kernel.0 * size.0 - h, kernel.1 * size.1 - w)
    let padded = padH == 0 && padW == 0 ? x : x.padded([padW / 2, padW - padW / 2, padH / 2, padH - padH / 2])
    return Functional.maxPool2d(padded, kernelSize: kernel, stride: kernel)
  }
}

/// One stack of NAS-FPN's seven cells over P3–P7 (Ghiasi et al. 2019, the architecture found
/// for RetinaNet), with mmdetection's cell names: `gp_64_4` reads P6 and P4 and writes at P4's
/// size, and so on. As in mmdetection 3.3's `NASFPN`, every cell ends in an output convolution
/// except the two attention cells whose result is summed at once (`gp_43_5`, `gp_54_7`).
final class NASFPNStage: Module {
  let cells: [(String, MergeCell)]

  init(channels: Int, norm: NormKind?, generator: Generator?) {
    func cell(_ operation: MergeCell.Operation, _ outputConvolution: Bool) -> MergeCell {
      MergeCell(operation, channels: channels, outputConvolution: outputConvolution, norm: norm, generator: generator)
    }
    cells = [
      ("gp_64_4", cell(.globalPooling, true)), ("sum_44_4", cell(.sum, true)), ("sum_43_3", cell(.sum, true)),
      ("sum_34_4", cell(.sum, true)), ("gp_43_5", cell(.globalPooling, false)), ("sum_55_5", cell(.sum, true)),
      ("gp_54_7", cell(.globalPooling, false)), ("sum_77_7", cell(.sum, true)), ("gp_75_6", cell(.globalPooling, true)),
    ]
    super.init()
  }

  override var namedChildren: [(String, Module)] { cells.map { ($0.0, $0.1 as Module) } }

  func callAsFunction(_ p: [Tensor]) -> [Tensor] {
    let c = cells.map(\.1)
    func size(_ x: Tensor) -> (Int, Int) { (x.shape[2], x.shape[3]) }
    var (p3, p4, p5, p6, p7) = (p[0], p[1], p[2], p[3], p[4])
    let p4First = c[0](p6, p4, size: size(p4))
    let p4Second = c[1](p4First, p4, size: size(p4))
    p3 = c[2](p4Second, p3, size: size(p3))
    p4 = c[3](p3, p4Second, size: size(p4))
    let p5Attention = c[4](p4, p3, size: size(p5))
    p5 = c[5](p5, p5Attention, size: size(p5))
    let p7Attention = c[6](p5, p4Second, size: size(p7))
    p7 = c[7](p7, p7Attention, size: size(p7))
    p6 = c[8](p7, p5, size: size(p6))
    return [p3, p4, p5, p6, p7]
  }
}

/// NAS-FPN (Ghiasi et al. 2019): lateral 1×1 convolutions of three backbone maps (C3–C5), two
/// more levels by 1×1 convolution and 2×2 max pooling, then `repeats` stacks of the merging
/// cells. Names follow mmdetection's `NASFPN` (`lateral_convs.i`, `extra_downsamples.i.0`,
/// `fpn_stages.s.<cell>.out_conv`).
public final class NASFPN: Module, Neck {
  let lateralConvs: [ConvNorm]
  let extraDownsamples: [ConvNorm]
  let fpnStages: [NASFPNStage]

  public init(inputChannels: [Int], configuration: NASFPNConfiguration, generator: Generator? = nil) {
    precondition(inputChannels.count == 3, "NAS-FPN reads three backbone maps (C3-C5), got \(inputChannels.count)")
    let c = configuration.channels
    lateralConvs = inputChannels.map {
      ConvNorm($0, c, kernelSize: 1, bias: configuration.norm == nil, norm: configuration.norm, activationFirst: false, generator: generator)
    }
    extraDownsamples = (0..<2).map { _ in
      ConvNorm(c, c, kernelSize: 1, bias: configuration.norm == nil, norm: configuration.norm, activationFirst: false, generator: generator)
    }
    fpnStages = (0..<configuration.repeats).map { _ in
      NASFPNStage(channels: c, norm: configuration.norm, generator: generator)
    }
    super.init()
  }

  // `extra_downsamples.i` is mmdetection's Sequential(ConvModule, MaxPool2d): the convolution is `.0`.
  override public var namedChildren: [(String, Module)] {
    lateralConvs.enumerated().map { ("lateral_convs.\($0.offset)", $0.element as Module) }
      + extraDownsamples.enumerated().map { ("extra_downsamples.\($0.offset).0", $0.element as Module) }
      + fpnStages.enumerated().map { ("fpn_stages.\($0.offset)", $0.element as Module) }
  }

  public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
    precondition(features.count == lateralConvs.count, "NAS-FPN built for 3 inputs, got \(features.count)")
    var levels = zip(lateralConvs, features).map { conv, x in conv(x) }
    for downsample in extraDownsamples {
      levels.append(Functional.maxPool2d(downsample(levels[levels.count - 1]), kernelSize: (2, 2), stride: (2, 2)))
    }
    for stage in fpnStages { levels = stage(levels) }
    return levels
  }
}
