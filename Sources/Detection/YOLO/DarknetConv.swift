import NN
import Torch

/// A convolution, its norm and a leaky ReLU of slope 0.1: mmcv's `ConvModule` as Darknet, the
/// YOLOv3 neck and the YOLOv3 head build it (`conv`, `bn`), so mmdetection's names load as they are.
/// The convolution has no bias, since the norm follows it.
final class DarknetConv: Module, UnaryLayer {
  let conv: Conv2d
  let bn: any UnaryLayer

  /// The leaky ReLU's slope, mmdetection's `act_cfg=dict(type='LeakyReLU', negative_slope=0.1)`.
  static let slope = 0.1

  init(_ input: Int, _ output: Int, kernelSize: Int, stride: Int = 1, norm: NormKind, generator: Generator?) {
    conv = Conv2d(input, output, kernelSize: kernelSize, stride: stride, padding: kernelSize / 2, bias: false, generator: generator)
    bn = norm.make(output)
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    normalized(conv, bn, x).leakyRelu(negativeSlope: Self.slope)
  }
}
