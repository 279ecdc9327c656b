import BenchmarkReference
import Foundation
import NN
import Torch

/// One side of a comparison: something that runs `iterations` training steps and returns the
/// seconds per step. Both sides build their own tensors once and are then timed in alternation.
protocol Subject: AnyObject {
  func run(iterations: Int) throws -> Double
}

struct BenchmarkFailure: Error, CustomStringConvertible {
  let description: String
}

/// Seconds per call of `step`, timed over `iterations` calls.
@inline(never)
func secondsPerStep(_ iterations: Int, _ step: () -> Void) -> Double {
  let clock = ContinuousClock()
  let start = clock.now
  for _ in 0..<iterations { step() }
  let elapsed = clock.now - start
  let (seconds, attoseconds) = elapsed.components
  return (Double(seconds) + Double(attoseconds) * 1e-18) / Double(iterations)
}

/// Minor page faults of the whole process so far (each one a fresh page the kernel had to zero).
func minorPageFaults() -> Int { Int(bref_minor_page_faults()) }

/// Pins glibc malloc's thresholds so that it neither hands large blocks back to the kernel nor
/// moves its mmap threshold as the program runs. By default glibc serves blocks from 128 KiB up
/// (a threshold it raises, history-dependently, as mmapped blocks are freed) with fresh mmaps and
/// trims the heap top, so a step can pay thousands of page faults, and two sides running in one
/// process can land in different regimes: that measures allocator history, not the code under test.
func pinMallocThresholds() throws {
  guard bref_pin_malloc_thresholds() == 0 else {
    throw BenchmarkFailure(description: String(cString: bref_last_error()))
  }
}

/// A C++ reference call's result: negative means failure, with the message in `bref_last_error`.
func referenceSeconds(_ value: Double, _ what: String) throws -> Double {
  guard value >= 0 else {
    throw BenchmarkFailure(description: "\(what) (C++ reference) failed: \(String(cString: bref_last_error()))")
  }
  return value
}

// MARK: Convolution

/// A convolution of ResNet-50 at one of its shapes, forward and backward.
struct ConvCase: Codable, Sendable {
  let name: String
  let batch: Int
  let inputChannels: Int
  let outputChannels: Int
  let size: Int
  let kernel: Int
  let stride: Int
  let padding: Int
  /// The stem's input is an image, which needs no gradient; every later conv's input does.
  let inputRequiresGrad: Bool

  var outputSize: Int { (size + 2 * padding - kernel) / stride + 1 }

  /// Multiply-adds counted twice, forward plus the weight gradient plus (when asked) the input gradient.
  var flopsPerStep: Double {
    let forward =
      2.0 * Double(batch * outputChannels * outputSize * outputSize) * Double(inputChannels * kernel * kernel)
    return forward * (inputRequiresGrad ? 3 : 2)
  }

  /// The representative set: the stem, then one conv of each stage's kind.
  static func resnet50(batch: Int) -> [ConvCase] {
    [
      ConvCase(conv: "7x7/2 3->64 @224 (stem)", batch, 3, 64, 224, 7, 2, 3, inputGrad: false),
      ConvCase(conv: "3x3 64->64 @56", batch, 64, 64, 56, 3, 1, 1),
      ConvCase(conv: "1x1 64->256 @56", batch, 64, 256, 56, 1, 1, 0),
      ConvCase(conv: "3x3 128->128 @28", batch, 128, 128, 28, 3, 1, 1),
      ConvCase(conv: "3x3 256->256 @14", batch, 256, 256, 14, 3, 1, 1),
      ConvCase(conv: "1x1/2 1024->2048 @14", batch, 1024, 2048, 14, 1, 2, 0),
      ConvCase(conv: "3x3 512->512 @7", batch, 512, 512, 7, 3, 1, 1),
    ]
  }

  /// Tiny versions of the same shapes, for a smoke run that finishes in seconds.
  static func quick(batch: Int) -> [ConvCase] {
    [
      ConvCase(conv: "7x7/2 3->16 @32 (quick)", batch, 3, 16, 32, 7, 2, 3, inputGrad: false),
      ConvCase(conv: "1x1 16->64 @16 (quick)", batch, 16, 64, 16, 1, 1, 0),
      ConvCase(conv: "3x3 32->32 @8 (quick)", batch, 32, 32, 8, 3, 1, 1),
    ]
  }

  init(
    conv name: String, _ batch: Int, _ inputChannels: Int, _ outputChannels: Int, _ size: Int, _ kernel: Int,
    _ stride: Int, _ padding: Int, inputGrad: Bool = true
  ) {
    self.name = name
    self.batch = batch
    self.inputChannels = inputChannels
    self.outputChannels = outputChannels
    self.size = size
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.inputRequiresGrad = inputGrad
  }
}

/// The Swift side: an `NN.Conv2d` without bias, called on a fixed input.
final class SwiftConv: Subject {
  let conv: Conv2d
  let input: Tensor

  init(_ c: ConvCase, seed: UInt64) {
    let generator = Generator(seed: seed)
    conv = Conv2d(
      c.inputChannels, c.outputChannels, kernelSize: c.kernel, stride: c.stride, padding: c.padding, bias: false,
      generator: generator)
    input = Tensor.randn([c.batch, c.inputChannels, c.size, c.size], generator: generator)
      .requiringGrad(c.inputRequiresGrad)
  }

  func step() {
    input.zeroGradient()
    conv.weight.zeroGradient()
    // The conv output is a temporary, released before backward (the C++ side does the same).
    let total = conv(input).sum()
    total.backward()
  }

  func run(iterations: Int) throws -> Double {
    secondsPerStep(iterations) { step() }
  }
}

/// The C++ side: the same computation written directly with ATen.
final class ReferenceConv: Subject {
  let handle: bref_conv

  init(_ c: ConvCase, seed: UInt64) throws {
    guard
      let h = bref_conv_new(
        Int64(c.batch), Int64(c.inputChannels), Int64(c.outputChannels), Int64(c.size), Int64(c.kernel),
        Int64(c.stride), Int64(c.padding), c.inputRequiresGrad ? 1 : 0, seed)
    else { throw BenchmarkFailure(description: "conv \(c.name): \(String(cString: bref_last_error()))") }
    handle = h
  }

  deinit { bref_conv_free(handle) }

  func run(iterations: Int) throws -> Double {
    try referenceSeconds(bref_conv_run(handle, Int32(iterations)), "conv")
  }
}

// MARK: ResNet-50

/// The Swift side: `ResNet50` from NN modules, one training step's forward and backward.
final class SwiftResNet: Subject {
  let model: ResNet50
  let parameters: [Tensor]
  let input: Tensor
  let targets: Tensor
  private(set) var lastLoss: Tensor?

  init(batch: Int, size: Int, seed: UInt64) {
    let generator = Generator(seed: seed)
    model = ResNet50(generator: generator)
    model.train()
    // Collected once, as an optimizer does: the Mirror walk is not on the step's path.
    parameters = model.trainableParameters()
    input = Tensor.randn([batch, 3, size, size], generator: generator)
    targets = Tensor.randint(0..<1000, shape: [batch], generator: generator)
  }

  func step() {
    for p in parameters { p.zeroGradient() }
    // The logits are a temporary, released before backward (the C++ side does the same).
    let loss = Functional.crossEntropy(model(input), targets: targets)
    loss.backward()
    lastLoss = loss
  }

  func run(iterations: Int) throws -> Double {
    secondsPerStep(iterations) { step() }
  }
}

/// The C++ side: the same network and step written directly with ATen.
final class ReferenceResNet: Subject {
  let handle: bref_resnet

  init(batch: Int, size: Int, seed: UInt64) throws {
    guard let h = bref_resnet50_new(Int32(batch), Int32(size), seed) else {
      throw BenchmarkFailure(description: "resnet50: \(String(cString: bref_last_error()))")
    }
    handle = h
  }

  deinit { bref_resnet50_free(handle) }

  var parameterCount: Int { Int(bref_resnet50_parameter_count(handle)) }
  var parameterTensors: Int { Int(bref_resnet50_parameter_tensors(handle)) }
  var lastLoss: Double { bref_resnet50_last_loss(handle) }

  func run(iterations: Int) throws -> Double {
    try referenceSeconds(bref_resnet50_run(handle, Int32(iterations)), "resnet50")
  }
}
