import NN
import Torch

/// torchvision's `Bottleneck` (ResNet v1.5: the stride sits on the 3×3 conv), with BatchNorm2d.
/// Property names follow torchvision so that `stateDict()` keys match `resnet50().state_dict()`.
final class Bottleneck: Module, UnaryLayer {
  static let expansion = 4

  let conv1: Conv2d
  let bn1: BatchNorm2d
  let conv2: Conv2d
  let bn2: BatchNorm2d
  let conv3: Conv2d
  let bn3: BatchNorm2d
  let downsample: Sequential?

  init(inputChannels: Int, width: Int, stride: Int, generator: Generator?) {
    let outputChannels = width * Bottleneck.expansion
    conv1 = Conv2d(inputChannels, width, kernelSize: 1, bias: false, generator: generator)
    bn1 = BatchNorm2d(width)
    conv2 = Conv2d(width, width, kernelSize: 3, stride: stride, padding: 1, bias: false, generator: generator)
    bn2 = BatchNorm2d(width)
    conv3 = Conv2d(width, outputChannels, kernelSize: 1, bias: false, generator: generator)
    bn3 = BatchNorm2d(outputChannels)
    if stride != 1 || inputChannels != outputChannels {
      downsample = Sequential(
        Conv2d(inputChannels, outputChannels, kernelSize: 1, stride: stride, bias: false, generator: generator),
        BatchNorm2d(outputChannels))
    } else {
      downsample = nil
    }
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    var y = bn1(conv1(x)).relu()
    y = bn2(conv2(y)).relu()
    y = bn3(conv3(y))
    let identity = downsample?(x) ?? x
    return (y + identity).relu()
  }
}

/// torchvision's `resnet50()`: stem, four stages of [3, 4, 6, 3] bottlenecks, global average pool
/// and a fully connected classifier.
final class ResNet50: Module, UnaryLayer {
  let conv1: Conv2d
  let bn1: BatchNorm2d
  let maxpool: MaxPool2d
  let layer1: Sequential
  let layer2: Sequential
  let layer3: Sequential
  let layer4: Sequential
  let avgpool: AdaptiveAvgPool2d
  let fc: Linear

  init(classes: Int = 1000, generator: Generator? = nil) {
    conv1 = Conv2d(3, 64, kernelSize: 7, stride: 2, padding: 3, bias: false, generator: generator)
    bn1 = BatchNorm2d(64)
    maxpool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
    var inputChannels = 64
    func stage(width: Int, blocks: Int, stride: Int) -> Sequential {
      var layers: [any UnaryLayer] = []
      for i in 0..<blocks {
        layers.append(
          Bottleneck(inputChannels: inputChannels, width: width, stride: i == 0 ? stride : 1, generator: generator))
        inputChannels = width * Bottleneck.expansion
      }
      return Sequential(layers)
    }
    layer1 = stage(width: 64, blocks: 3, stride: 1)
    layer2 = stage(width: 128, blocks: 4, stride: 2)
    layer3 = stage(width: 256, blocks: 6, stride: 2)
    layer4 = stage(width: 512, blocks: 3, stride: 2)
    avgpool = AdaptiveAvgPool2d(outputSize: (1, 1))
    fc = Linear(512 * Bottleneck.expansion, classes, generator: generator)
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    var y = bn1(conv1(x)).relu()
    y = maxpool(y)
    y = layer4(layer3(layer2(layer1(y))))
    y = avgpool(y).flattened(from: 1)
    return fc(y)
  }
}
