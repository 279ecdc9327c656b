import Testing
@testable import NN
@testable import Torch

/// A small ResNet-like block whose names mirror torchvision's `BasicBlock`.
final class TinyBlock: Module, UnaryLayer {
  let conv1: Conv2d
  let bn1: BatchNorm2d
  let conv2: Conv2d
  let bn2: FrozenBatchNorm2d
  let downsample: Sequential?

  init(withDownsample: Bool) {
    conv1 = Conv2d(2, 4, kernelSize: 3, padding: 1, bias: false)
    bn1 = BatchNorm2d(4)
    conv2 = Conv2d(4, 4, kernelSize: 3, padding: 1, bias: false)
    bn2 = FrozenBatchNorm2d(4)
    downsample = withDownsample ? Sequential(Conv2d(2, 4, kernelSize: 1, bias: false), BatchNorm2d(4)) : nil
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let y = bn2(conv2(bn1(conv1(x)).relu()))
    return (y + (downsample?(x) ?? x)).relu()
  }
}

final class TinyNet: Module {
  let layer1: [TinyBlock]
  let fc: Linear

  override init() {
    layer1 = [TinyBlock(withDownsample: true), TinyBlock(withDownsample: false)]
    fc = Linear(4, 3)
    super.init()
  }
}

@Suite struct ModuleNamingTests {
  @Test func snakeCaseKeys() {
    #expect(Module.snakeCase("runningMean") == "running_mean")
    #expect(Module.snakeCase("numBatchesTracked") == "num_batches_tracked")
    #expect(Module.snakeCase("bboxPred") == "bbox_pred")
    #expect(Module.snakeCase("layer1") == "layer1")
    #expect(Module.snakeCase("conv5Mask") == "conv5_mask")
  }

  @Test func stateDictKeysFollowTorchvision() {
    let net = TinyNet()
    let keys = net.stateDict().keys.sorted()
    let expected = [
      "fc.bias", "fc.weight",
      "layer1.0.bn1.bias", "layer1.0.bn1.num_batches_tracked", "layer1.0.bn1.running_mean",
      "layer1.0.bn1.running_var", "layer1.0.bn1.weight",
      "layer1.0.bn2.bias", "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var", "layer1.0.bn2.weight",
      "layer1.0.conv1.weight", "layer1.0.conv2.weight",
      "layer1.0.downsample.0.weight",
      "layer1.0.downsample.1.bias", "layer1.0.downsample.1.num_batches_tracked",
      "layer1.0.downsample.1.running_mean", "layer1.0.downsample.1.running_var", "layer1.0.downsample.1.weight",
      "layer1.1.bn1.bias", "layer1.1.bn1.num_batches_tracked", "layer1.1.bn1.running_mean",
      "layer1.1.bn1.running_var", "layer1.1.bn1.weight",
      "layer1.1.bn2.bias", "layer1.1.bn2.running_mean", "layer1.1.bn2.running_var", "layer1.1.bn2.weight",
      "layer1.1.conv1.weight", "layer1.1.conv2.weight",
    ]
    #expect(keys == expected)
  }

  @Test func parametersExcludeBuffersAndFrozenNorms() {
    let net = TinyNet()
    let names = net.namedParameters().map(\.0)
    #expect(names.contains("layer1.0.bn1.weight"))
    #expect(!names.contains("layer1.0.bn2.weight"), "FrozenBatchNorm2d keeps its affine terms as buffers")
    #expect(!names.contains { $0.contains("running") })
    #expect(names.count == 2 + 2 * 4 + 3)  // fc; per block conv1, conv2, bn1.weight, bn1.bias; downsample conv + bn
    #expect(net.parameters().allSatisfy { $0.requiresGrad })
  }

  @Test func parameterOrderIsDeclarationOrder() {
    let names = TinyBlock(withDownsample: false).namedParameters().map(\.0)
    #expect(names == ["conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight"])
  }

  @Test func trainAndEvalReachEveryModule() {
    let net = TinyNet()
    net.eval()
    #expect(net.namedModules().allSatisfy { !$0.1.isTraining })
    net.train()
    #expect(net.namedModules().allSatisfy { $0.1.isTraining })
  }
}

@Suite struct StateDictTests {
  @Test func roundTripCopiesValuesIntoPlace() throws {
    let a = TinyNet()
    let b = TinyNet()
    let weightBefore = b.fc.weight
    try b.load(stateDict: a.stateDict())
    #expect(b.fc.weight === weightBefore, "loading keeps parameter identity for optimizers")
    for (key, value) in a.stateDict() {
      #expect(b.stateDict()[key]!.isEqual(to: value), "\(key)")
    }
  }

  @Test func strictLoadReportsEveryProblemTogether() throws {
    let net = TinyNet()
    var state = net.stateDict()
    state["fc.weight"] = nil
    state["layer1.0.conv1.weight"] = nil
    state["head.extra"] = Tensor.zeros([1])
    let error = try #require(throws: StateDictError.self) { try net.load(stateDict: state) }
    #expect(error.missing == ["fc.weight", "layer1.0.conv1.weight"])
    #expect(error.unexpected == ["head.extra"])
    #expect(error.description.contains("missing keys: fc.weight"))
  }

  /// PyTorch's batch norms load state dicts without `num_batches_tracked`; so do ours.
  @Test func batchCountsMayBeAbsent() throws {
    let net = Sequential(BatchNorm2d(3))
    var state = net.stateDict()
    #expect(state["0.num_batches_tracked"] != nil)
    state["0.num_batches_tracked"] = nil
    state["0.running_mean"] = Tensor([1, 2, 3] as [Float])
    let report = try net.load(stateDict: state)
    #expect(report.missing.isEmpty)
    #expect(net.stateDict()["0.running_mean"]!.toArray(Float.self) == [1, 2, 3])
  }

  /// Weights for another architecture miss hundreds of keys: the message names a few and counts the rest.
  @Test func longKeyListsAreShortened() throws {
    let error = StateDictError(missing: (0..<100).map { "layer.\($0).weight" }, unexpected: [], mismatched: [])
    #expect(error.description.contains("100 missing keys: layer.0.weight, "))
    #expect(error.description.contains("(94 more)"))
    #expect(!error.description.contains("layer.99.weight"))
  }

  @Test func shapeMismatchIsAnErrorEvenWhenNotStrict() throws {
    let net = TinyNet()
    var state = net.stateDict()
    state["fc.weight"] = Tensor.zeros([5, 4])
    let error = try #require(throws: StateDictError.self) { try net.load(stateDict: state, strict: false) }
    #expect(error.mismatched == ["fc.weight: checkpoint [5, 4] vs model [3, 4]"])
  }

  @Test func nonStrictLoadListsWhatItSkipped() throws {
    let net = TinyNet()
    var state = net.stateDict()
    state["fc.bias"] = nil
    state["unused"] = Tensor.zeros([1])
    let report = try net.load(stateDict: state, strict: false)
    #expect(report.missing == ["fc.bias"])
    #expect(report.unexpected == ["unused"])
  }

  @Test func numBatchesTrackedIsIgnoredWhenTheModelHasNone() throws {
    let frozen = FrozenBatchNorm2d(3)
    var state = frozen.stateDict()
    state["num_batches_tracked"] = Tensor(scalar: Int64(7))
    try frozen.load(stateDict: state)
  }

  @Test func convertKeepsIdentityAndChangesDType() {
    let layer = Linear(3, 2)
    let w = layer.weight
    layer.convert(to: .float64)
    #expect(layer.weight === w)
    #expect(w.dtype == .float64)
    #expect(w.requiresGrad)
  }
}

@Suite struct LayerTests {
  @Test func batchNormUpdatesRunningStatisticsInTraining() {
    let bn = BatchNorm2d(features: 1, momentum: 0.5)
    let x = Tensor([1, 3, 5, 7] as [Float], shape: [4, 1, 1, 1])
    let y = bn(x)
    // Batch mean 4, biased variance 5; running variance uses the unbiased 20/3.
    #expect(y.reshaped([4]).isClose(to: Tensor([-3, -1, 1, 3] as [Float]) / Float((5.0 + 1e-5).squareRoot()), relativeTolerance: 1e-5))
    #expect(bn.runningMean!.isClose(to: Tensor([2] as [Float])))
    #expect(bn.runningVar!.isClose(to: Tensor([Float(0.5 + 0.5 * 20.0 / 3)])))
    #expect(bn.numBatchesTracked!.intValue() == 1)
    bn.eval()
    let z = bn(Tensor([2] as [Float], shape: [1, 1, 1, 1]))
    #expect(Swift.abs(z.floatValue() - 0) < 1e-6)
    #expect(bn.numBatchesTracked!.intValue() == 1)
  }

  @Test func frozenBatchNormIsAnAffineMap() {
    let bn = FrozenBatchNorm2d(features: 2, epsilon: 0)
    bn.weight.copy(from: Tensor([2, 3] as [Float]))
    bn.bias.copy(from: Tensor([1, -1] as [Float]))
    bn.runningMean.copy(from: Tensor([0.5, 1] as [Float]))
    bn.runningVar.copy(from: Tensor([4, 9] as [Float]))
    let x = Tensor([1.5, 4] as [Float], shape: [1, 2, 1, 1])
    // (1.5 - 0.5) / 2 * 2 + 1 = 2; (4 - 1) / 3 * 3 - 1 = 2
    #expect(bn(x).toArray(Float.self) == [2, 2])
  }

  @Test func frozenBatchNormFoldsIntoTheConvolution() {
    let g = Generator(seed: 7)
    let conv = Conv2d(3, 4, kernelSize: 3, stride: 2, padding: 1, generator: g)
    let bn = FrozenBatchNorm2d(4)
    bn.weight.copy(from: Tensor.rand([4], generator: g) + 0.5)
    bn.bias.copy(from: Tensor.randn([4], generator: g))
    bn.runningMean.copy(from: Tensor.randn([4], generator: g))
    bn.runningVar.copy(from: Tensor.rand([4], generator: g) + 0.5)
    let x = Tensor.randn([2, 3, 9, 9], generator: g)

    let twoStep = bn(conv(x))
    twoStep.sum().backward()
    let twoStepGradient = conv.weight.grad!.clone()
    conv.weight.zeroGradient()

    let folded = bn.folded(into: conv, applyingTo: x)
    folded.sum().backward()
    #expect(folded.shape == twoStep.shape)
    #expect(folded.isClose(to: twoStep, relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    // The convolution stays trainable through the fold.
    #expect(conv.weight.grad!.isClose(to: twoStepGradient, relativeTolerance: 1e-5, absoluteTolerance: 1e-4))
  }

  @Test func linearMatchesTheMatrixProductForwardAndBackward() {
    // Float32 Linear runs through oneDNN's matmul with its own autograd function; the values and
    // all three gradients must equal the textbook matrix products.
    let g = Generator(seed: 11)
    let layer = Linear(37, 19, generator: g)
    let x = Tensor.randn([23, 37], generator: g)
    x.requiresGrad = true
    let upstream = Tensor.randn([23, 19], generator: g)
    let y = layer(x)
    let expected = withNoGrad { x.matmul(layer.weight.transposed(0, 1)) + layer.bias! }
    #expect(y.isClose(to: expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    (y * upstream).sum().backward()
    withNoGrad {
      #expect(x.grad!.isClose(to: upstream.matmul(layer.weight), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
      #expect(
        layer.weight.grad!.isClose(
          to: upstream.transposed(0, 1).matmul(x), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
      #expect(layer.bias!.grad!.isClose(to: upstream.sum(axis: 0), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }
  }

  @Test func linearComputesAffineMap() {
    let layer = Linear(2, 1)
    withNoGrad {
      layer.weight.copy(from: Tensor([2, -1] as [Float], shape: [1, 2]))
      layer.bias!.copy(from: Tensor([0.5] as [Float]))
    }
    #expect(layer(Tensor([3, 4] as [Float], shape: [1, 2])).toArray(Float.self) == [2.5])
  }

  @Test func pytorchDefaultInitBounds() {
    let g = Generator(seed: 1)
    let conv = Conv2d(8, 4, kernelSize: 3, generator: g)
    // kaiming_uniform with a = sqrt(5): bound = sqrt(6 / ((1 + 5) * fanIn)) = 1 / sqrt(fanIn)
    let bound = 1 / Float(72).squareRoot()
    #expect(conv.weight.abs().max().floatValue() <= bound)
    #expect(conv.weight.abs().max().floatValue() > bound * 0.9)
    #expect(conv.bias!.abs().max().floatValue() <= bound)
  }

  @Test func sequentialNamesAndAppliesInOrder() {
    let seq = Sequential(Linear(2, 3), Activation.relu(), Linear(3, 1))
    #expect(seq.stateDict().keys.sorted() == ["0.bias", "0.weight", "2.bias", "2.weight"])
    #expect(seq(Tensor.zeros([5, 2])).shape == [5, 1])
  }

  @Test func groupNormNormalisesEachGroup() {
    let gn = GroupNorm(groups: 2, channels: 4)
    let x = Tensor((0..<8).map(Float.init), shape: [1, 4, 2, 1])
    let y = gn(x).reshaped([2, 4])
    #expect(y.mean(axis: 1).abs().max().floatValue() < 1e-5)
  }

  @Test func initializersUseTheirBounds() {
    let t = Tensor.empty([64, 32])
    Initializer.xavierUniform(t, generator: Generator(seed: 3))
    let bound = Float((6.0 / 96).squareRoot())
    #expect(t.abs().max().floatValue() <= bound)
    Initializer.constant(t, 0.25)
    #expect(t.min().floatValue() == 0.25 && t.max().floatValue() == 0.25)
    Initializer.kaimingNormal(t, nonlinearity: .relu, generator: Generator(seed: 3))
    let std = t.standardDeviation().floatValue()
    #expect(Swift.abs(std - Float((2.0 / 32).squareRoot())) < 0.02)
  }
}
