import NN
import Torch

/// Which deformable convolution a ResNet's chosen blocks use (`model.backbone.dcn`).
public enum DeformableConvolutionVersion: String, ConfigChoice, Sendable {
  /// Ordinary 3×3 convolutions.
  case none
  /// Learned offsets per kernel tap (Dai et al. 2017; mmdetection's `DCN`).
  case v1
  /// Offsets and a sigmoid modulation mask (Zhu et al. 2019; mmdetection's `DCNv2`).
  case v2
}

/// A deformable convolution layer with its own offset predictor, as mmcv's `DeformConv2dPack`
/// (v1) and `ModulatedDeformConv2dPack` (v2): `conv_offset`, a 3×3-style convolution of the
/// layer's input with the layer's stride, padding and dilation, predicts `(dy, dx)` per offset
/// group and kernel tap (v2: then the mask logits, `2K` and `K` channels in that order). It starts
/// at zero, so an initialised layer is an ordinary convolution (v2: with every mask at 0.5).
/// Names: `weight` (and `bias`), `conv_offset.weight`, `conv_offset.bias`, as mmdetection's.
public final class DeformableConv2d: Module, UnaryLayer {
  @Parameter public var weight: Tensor
  @Parameter public var bias: Tensor?
  public let convOffset: Conv2d
  public let modulated: Bool
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let dilation: (Int, Int)
  public let groups: Int
  public let offsetGroups: Int

  public init(
    _ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
    groups: Int = 1, offsetGroups: Int = 1, modulated: Bool, bias: Bool = false, generator: Generator? = nil
  ) {
    precondition(
      inputChannels % groups == 0 && outputChannels % groups == 0 && inputChannels % offsetGroups == 0,
      "DeformableConv2d: channels \(inputChannels)→\(outputChannels) do not divide into \(groups) groups and \(offsetGroups) offset groups"
    )
    let w = Tensor.empty([outputChannels, inputChannels / groups, kernelSize, kernelSize])
    let b = bias ? Tensor.empty([outputChannels]) : nil
    Initializer.pytorchDefault(weight: w, bias: b, generator: generator)
    _weight = Parameter(w)
    _bias = Parameter(b)
    let taps = kernelSize * kernelSize
    convOffset = Conv2d(
      inputChannels, offsetGroups * taps * (modulated ? 3 : 2), kernelSize: kernelSize, stride: stride,
      padding: padding, dilation: dilation, bias: true)
    self.modulated = modulated
    self.stride = (stride, stride)
    self.padding = (padding, padding)
    self.dilation = (dilation, dilation)
    self.groups = groups
    self.offsetGroups = offsetGroups
    super.init()
    zeroOffsets()
  }

  /// Sets the offset predictor to zero (what `init` does; for after a whole-network
  /// initialisation that touched it).
  public func zeroOffsets() {
    withNoGrad {
      convOffset.weight.fill(with: 0)
      convOffset.bias?.fill(with: 0)
    }
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let predicted = convOffset(x)
    let offsetChannels = 2 * offsetGroups * weight.shape[2] * weight.shape[3]
    let offset = modulated ? predicted[.all, ..<offsetChannels] : predicted
    let mask = modulated ? predicted[.all, offsetChannels...].sigmoid() : nil
    return deformableConvolution2D(
      x, offset: offset, mask: mask, weight: weight, bias: bias, stride: stride, padding: padding,
      dilation: dilation, groups: groups)
  }
}
