import NN
import Torch

/// The YOLOv3 neck's settings (the `yolov3` neck kind), mmdetection's `YOLOV3Neck`.
public struct YOLOV3NeckConfiguration: Codable, Equatable, Sendable {
  /// Output channels per level, finest first (mmdetection lists them coarsest first:
  /// `out_channels=[512, 256, 128]`); empty: half of each backbone map's channels, which is
  /// mmdetection's choice for Darknet-53.
  public var channels: [Int] = []
  /// Normalisation after each convolution.
  public var norm = NormKind.batchNorm
  /// Activation checkpointing in training: keep only the neck's inputs and recompute it in backward.
  public var checkpoint = false

  public init() {}

  /// The channels of each output level for backbone maps of `input` channels, finest first.
  public func outputChannels(input: [Int]) -> [Int] {
    channels.isEmpty ? input.map { Swift.max(1, $0 / 2) } : channels
  }
}

/// YOLOv3's neck (mmdetection's `YOLOV3Neck`, a simplified FPN): the coarsest map goes through a
/// detection block (`detect1`: five convolutions, 1×1 and 3×3 alternating); each finer level
/// takes the coarser level's output through a 1×1 convolution (`conv1`, `conv2`, …), upsamples
/// it twice (nearest), concatenates it before the backbone's map and runs its own detection block
/// (`detect2`, `detect3`, …). Module names are mmdetection's; maps in and out are finest first,
/// as everywhere in SimpleDet (mmdetection returns them coarsest first).
public final class YOLOV3Neck: Module, Neck {
  /// mmdetection's `DetectionBlock`: 1×1 to n, 3×3 to 2n, 1×1 to n, 3×3 to 2n, 1×1 to n.
  final class DetectionBlock: Module, UnaryLayer {
    let conv1: DarknetConv
    let conv2: DarknetConv
    let conv3: DarknetConv
    let conv4: DarknetConv
    let conv5: DarknetConv

    init(input: Int, output: Int, norm: NormKind, generator: Generator?) {
      conv1 = DarknetConv(input, output, kernelSize: 1, norm: norm, generator: generator)
      conv2 = DarknetConv(output, output * 2, kernelSize: 3, norm: norm, generator: generator)
      conv3 = DarknetConv(output * 2, output, kernelSize: 1, norm: norm, generator: generator)
      conv4 = DarknetConv(output, output * 2, kernelSize: 3, norm: norm, generator: generator)
      conv5 = DarknetConv(output * 2, output, kernelSize: 1, norm: norm, generator: generator)
      super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv5(conv4(conv3(conv2(conv1(x))))) }
  }

  /// Detection blocks, coarsest level first (`detect1` reads the coarsest map).
  let detects: [DetectionBlock]
  /// The 1×1 convolutions from each level to the next finer one (`conv1` feeds `detect2`).
  let lateralConvs: [DarknetConv]

  /// A neck for backbone maps of `inputChannels` (finest first).
  public init(inputChannels: [Int], configuration: YOLOV3NeckConfiguration, generator: Generator?) {
    let coarseFirstInputs = Array(inputChannels.reversed())
    let outputs = Array(configuration.outputChannels(input: inputChannels).reversed())
    let norm = configuration.norm
    var detects = [DetectionBlock(input: coarseFirstInputs[0], output: outputs[0], norm: norm, generator: generator)]
    var laterals: [DarknetConv] = []
    for i in 1..<coarseFirstInputs.count {
      laterals.append(DarknetConv(outputs[i - 1], outputs[i], kernelSize: 1, norm: norm, generator: generator))
      detects.append(DetectionBlock(input: coarseFirstInputs[i] + outputs[i], output: outputs[i], norm: norm, generator: generator))
    }
    self.detects = detects
    lateralConvs = laterals
    super.init()
    // mmdetection leaves the neck at PyTorch's default initialisation (no init_cfg); the
    // convolutions here have it from `Conv2d`, the norms are at 1 and 0.
  }

  override public var namedChildren: [(String, Module)] {
    detects.enumerated().flatMap { i, detect -> [(String, Module)] in
      (i == 0 ? [] : [("conv\(i)", lateralConvs[i - 1] as Module)]) + [("detect\(i + 1)", detect as Module)]
    }
  }

  /// The neck's maps for backbone maps `features`, both finest first.
  public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
    let coarseFirst = Array(features.reversed())
    var out = detects[0](coarseFirst[0])
    var outputs = [out]
    for i in 1..<coarseFirst.count {
      let lateral = lateralConvs[i - 1](out)
      let upsampled = Functional.interpolate(lateral, scale: (2, 2), mode: .nearest)
      out = detects[i](Tensor.concatenate([upsampled, coarseFirst[i]], axis: 1))
      outputs.append(out)
    }
    return outputs.reversed()
  }
}
