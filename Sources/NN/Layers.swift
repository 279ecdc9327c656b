import Torch

/// A 2-D convolution over NCHW input (`torch.nn.Conv2d`).
public final class Conv2d: Module, UnaryLayer {
  /// `[outputChannels, inputChannels / groups, kernelHeight, kernelWidth]`.
  @Parameter public var weight: Tensor
  @Parameter public var bias: Tensor?
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let dilation: (Int, Int)
  public let groups: Int
  /// Quantization-aware training: the fake quantization of the weights and the input (nil:
  /// floating point).
  public var fakeQuantizer: FakeQuantizer?

  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
    generator: Generator? = nil
  ) {
    precondition(
      inputChannels % groups == 0 && outputChannels % groups == 0,
      "Conv2d: channels \(inputChannels)→\(outputChannels) are not divisible by groups \(groups)")
    let w = Tensor.empty([outputChannels, inputChannels / groups, kernelSize.0, kernelSize.1])
    let b = bias ? Tensor.empty([outputChannels]) : nil
    Initializer.pytorchDefault(weight: w, bias: b, generator: generator)
    _weight = Parameter(w)
    _bias = Parameter(b)
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.groups = groups
    super.init()
  }

  /// A square kernel with the same stride, padding and dilation in both directions.
  public convenience init(
    _ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: Generator? = nil
  ) {
    self.init(
      inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize),
      stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups,
      bias: bias, generator: generator)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    convolve(x, weight: weight, bias: bias)
  }

  /// This convolution's geometry with `weight` and `bias` (its own, or derived from them, as
  /// when a frozen batch norm is folded in), fake-quantized as the layer is.
  public func convolve(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    guard let quantizer = fakeQuantizer else {
      return Functional.conv2d(
        x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
    let evaluated = quantizer.evaluated(
      x, weight: weight, bias: bias, channelAxis: 1,
      pack: {
        Int8Layer.convolution(
          weight: weight, scales: quantizer.weightScales(weight), bias: bias, stride: stride, padding: padding,
          dilation: dilation, groups: groups)
      },
      accumulate: { codes, weightCodes in
        Functional.conv2d(
          codes, weight: weightCodes, bias: nil, stride: self.stride, padding: self.padding,
          dilation: self.dilation, groups: self.groups)
      })
    if let evaluated { return evaluated }
    return quantizer.output(
      Functional.conv2d(
        quantizer.input(x), weight: quantizer.weight(weight), bias: bias, stride: stride, padding: padding,
        dilation: dilation, groups: groups))
  }
}

/// A transposed 2-D convolution (`torch.nn.ConvTranspose2d`), for learned upsampling.
public final class ConvTranspose2d: Module, UnaryLayer {
  /// `[inputChannels, outputChannels / groups, kernelHeight, kernelWidth]`.
  @Parameter public var weight: Tensor
  @Parameter public var bias: Tensor?
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let outputPadding: (Int, Int)
  public let dilation: (Int, Int)
  public let groups: Int

  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1),
    groups: Int = 1, bias: Bool = true, generator: Generator? = nil
  ) {
    let w = Tensor.empty([inputChannels, outputChannels / groups, kernelSize.0, kernelSize.1])
    let b = bias ? Tensor.empty([outputChannels]) : nil
    // PyTorch computes the fans of a transposed conv from the weight as stored, so the same call applies.
    Initializer.pytorchDefault(weight: w, bias: b, generator: generator)
    _weight = Parameter(w)
    _bias = Parameter(b)
    self.stride = stride
    self.padding = padding
    self.outputPadding = outputPadding
    self.dilation = dilation
    self.groups = groups
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.convTranspose2d(
      x, weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding,
      dilation: dilation, groups: groups)
  }
}

/// A fully connected layer `y = x·Wᵀ + b` (`torch.nn.Linear`).
public final class Linear: Module, UnaryLayer {
  /// `[outputFeatures, inputFeatures]`.
  @Parameter public var weight: Tensor
  @Parameter public var bias: Tensor?
  /// Quantization-aware training: the fake quantization of the weights and the input (nil:
  /// floating point).
  public var fakeQuantizer: FakeQuantizer?

  public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true, generator: Generator? = nil) {
    let w = Tensor.empty([outputFeatures, inputFeatures])
    let b = bias ? Tensor.empty([outputFeatures]) : nil
    Initializer.pytorchDefault(weight: w, bias: b, generator: generator)
    _weight = Parameter(w)
    _bias = Parameter(b)
    super.init()
  }

  public convenience init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true, generator: Generator? = nil) {
    self.init(inputFeatures: inputFeatures, outputFeatures: outputFeatures, bias: bias, generator: generator)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    guard let quantizer = fakeQuantizer else { return Functional.linear(x, weight: weight, bias: bias) }
    let evaluated = quantizer.evaluated(
      x, weight: weight, bias: bias, channelAxis: -1,
      pack: { Int8Layer.linear(weight: weight, scales: quantizer.weightScales(weight), bias: bias) },
      accumulate: { codes, weightCodes in Functional.linear(codes, weight: weightCodes, bias: nil) })
    if let evaluated { return evaluated }
    return quantizer.output(Functional.linear(quantizer.input(x), weight: quantizer.weight(weight), bias: bias))
  }
}

/// Layers applied one after another; children are named `0`, `1`, ... as in PyTorch.
public final class Sequential: Module, UnaryLayer {
  public let layers: [any UnaryLayer]

  public init(_ layers: [any UnaryLayer]) {
    self.layers = layers
    super.init()
  }

  public convenience init(_ layers: any UnaryLayer...) { self.init(layers) }

  public override var namedChildren: [(String, Module)] {
    layers.enumerated().map { (String($0.offset), $0.element) }
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    layers.reduce(x) { $1($0) }
  }
}

/// Modules kept in a list, named `0`, `1`, ... (`torch.nn.ModuleList`); the owner decides how to call them.
public final class ModuleList: Module {
  public let modules: [Module]

  public init(_ modules: [Module]) {
    self.modules = modules
    super.init()
  }

  public override var namedChildren: [(String, Module)] {
    modules.enumerated().map { (String($0.offset), $0.element) }
  }

  public subscript(index: Int) -> Module { modules[index] }
  public var count: Int { modules.count }
}

/// Passes its input through unchanged.
public final class Identity: Module, UnaryLayer {
  public override init() { super.init() }
  public func callAsFunction(_ x: Tensor) -> Tensor { x }
}

/// Merges dimensions `start...end` (`torch.nn.Flatten`, which starts at 1 to keep the batch).
public final class Flatten: Module, UnaryLayer {
  public let start: Int
  public let end: Int

  public init(from start: Int = 1, to end: Int = -1) {
    self.start = start
    self.end = end
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { x.flattened(from: start, to: end) }
}

/// Zeroes elements with probability `p` in training mode.
public final class Dropout: Module, UnaryLayer {
  public let probability: Double
  let generator: Generator?

  public init(probability: Double = 0.5, generator: Generator? = nil) {
    precondition((0..<1).contains(probability), "Dropout probability must be in [0, 1), got \(probability)")
    self.probability = probability
    self.generator = generator
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.dropout(x, probability: probability, training: isTraining, generator: generator)
  }
}

/// An element-wise activation as a layer.
public final class Activation: Module, UnaryLayer {
  public let function: @Sendable (Tensor) -> Tensor
  public let name: String

  public init(_ name: String, _ function: @escaping @Sendable (Tensor) -> Tensor) {
    self.name = name
    self.function = function
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { function(x) }

  public static func relu() -> Activation { Activation("relu") { $0.relu() } }
  public static func relu6() -> Activation { Activation("relu6") { $0.relu6() } }
  public static func leakyRelu(negativeSlope: Double = 0.01) -> Activation {
    Activation("leakyRelu") { $0.leakyRelu(negativeSlope: negativeSlope) }
  }
  public static func sigmoid() -> Activation { Activation("sigmoid") { $0.sigmoid() } }
  public static func tanh() -> Activation { Activation("tanh") { $0.tanh() } }
  public static func gelu() -> Activation { Activation("gelu") { $0.gelu() } }
  public static func silu() -> Activation { Activation("silu") { $0.silu() } }
  public static func hardSwish() -> Activation { Activation("hardSwish") { $0.hardSwish() } }
}

/// Max pooling (`torch.nn.MaxPool2d`); stride defaults to the kernel size.
public final class MaxPool2d: Module, UnaryLayer {
  public let kernelSize: Int
  public let stride: Int
  public let padding: Int
  public let ceilMode: Bool

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    self.kernelSize = kernelSize
    self.stride = stride ?? kernelSize
    self.padding = padding
    self.ceilMode = ceilMode
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.maxPool2d(
      x, kernelSize: (kernelSize, kernelSize), stride: (stride, stride), padding: (padding, padding),
      ceilMode: ceilMode)
  }
}

/// Average pooling (`torch.nn.AvgPool2d`); stride defaults to the kernel size.
public final class AvgPool2d: Module, UnaryLayer {
  public let kernelSize: Int
  public let stride: Int
  public let padding: Int

  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernelSize = kernelSize
    self.stride = stride ?? kernelSize
    self.padding = padding
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Functional.avgPool2d(x, kernelSize: (kernelSize, kernelSize), stride: (stride, stride), padding: (padding, padding))
  }
}

/// Average pooling to a fixed output size (`torch.nn.AdaptiveAvgPool2d`).
public final class AdaptiveAvgPool2d: Module, UnaryLayer {
  public let outputSize: (Int, Int)

  public init(outputSize: (Int, Int)) {
    self.outputSize = outputSize
    super.init()
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { Functional.adaptiveAvgPool2d(x, outputSize: outputSize) }
}
