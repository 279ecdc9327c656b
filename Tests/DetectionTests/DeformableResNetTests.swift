import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// `model.backbone.dcn`: which blocks become deformable, their names (mmdetection's
/// `conv2.conv_offset`), their start as ordinary convolutions, and their training.
@Suite struct DeformableResNetTests {
  func resNet(_ version: DeformableConvolutionVersion, depth: Int = 50, stages: [ResNetFeature] = [.c3, .c4, .c5]) -> ResNet {
    var c = ResNet.Configuration(depth: depth, norm: .batchNorm, frozenStages: 0, baseChannels: 8)
    c.dcn = version
    c.dcnStages = stages
    return ResNet(c, generator: Generator(seed: 1))
  }

  @Test func chosenStagesGetOffsetPredictorsWithMMDetectionsNames() {
    let v2 = resNet(.v2).stateDict()
    // Stage 2 (c3) of a bottleneck ResNet: 4× base width inside; 3 × 9 outputs for v2.
    #expect(v2["layer2.0.conv2.conv_offset.weight"]?.shape == [27, 16, 3, 3])
    #expect(v2["layer2.0.conv2.conv_offset.bias"]?.shape == [27])
    #expect(v2["layer2.0.conv2.weight"]?.shape == [16, 16, 3, 3])
    #expect(v2["layer4.2.conv2.conv_offset.weight"] != nil)
    #expect(v2["layer1.0.conv2.conv_offset.weight"] == nil && v2["layer2.0.conv2.bias"] == nil)
    let v1 = resNet(.v1, stages: [.c5]).stateDict()
    #expect(v1["layer4.0.conv2.conv_offset.weight"]?.shape == [18, 64, 3, 3])
    #expect(v1["layer3.0.conv2.conv_offset.weight"] == nil)
    // Everything else is named as in the plain network.
    let plain = Set(resNet(.none).stateDict().keys)
    #expect(Set(v2.keys.filter { !$0.contains("conv_offset") }) == plain)
    // The offset predictors start at zero after the network's own initialisation.
    #expect(v2["layer3.1.conv2.conv_offset.weight"]!.abs().max().doubleValue() == 0)
  }

  /// Zero offsets make a v1 network the plain one with the same weights, in every block kind;
  /// v2's masks start at 0.5, so its first deformable block halves that convolution.
  @Test(arguments: [18, 50])
  func freshDeformableNetworksAreOrdinaryConvolutions(depth: Int) throws {
    let plain = resNet(.none, depth: depth)
    let v1 = resNet(.v1, depth: depth)
    try v1.load(stateDict: plain.stateDict(), strict: false)
    plain.eval()
    v1.eval()
    let x = Tensor.rand([1, 3, 64, 64], generator: Generator(seed: 2))
    for (a, b) in zip(plain(x), v1(x)) {
      #expect((a - b).abs().max().doubleValue() < 1e-4 * Swift.max(1, a.abs().max().doubleValue()))
    }
    let v2 = resNet(.v2, depth: depth)
    try v2.load(stateDict: plain.stateDict(), strict: false)
    v2.eval()
    let c2 = plain(x)[0]
    #expect((v2(x)[0] - c2).abs().max().doubleValue() < 1e-5)
    #expect((v2(x)[1] - plain(x)[1]).abs().max().doubleValue() > 1e-3)
  }

  @Test func offsetsLearn() {
    let net = resNet(.v2, depth: 18)
    net.train()
    let x = Tensor.rand([2, 3, 64, 64], generator: Generator(seed: 3))
    let loss = net(x).map { ($0 * $0).mean() }.reduce(Tensor(scalar: Float(0))) { $0 + $1 }
    loss.backward()
    let offsetGrads = net.namedParameters().filter { $0.0.contains("conv_offset.weight") }.map { $0.1.grad }
    #expect(offsetGrads.count == 6)
    #expect(offsetGrads.allSatisfy { ($0?.abs().max().doubleValue() ?? 0) > 0 })
  }
}
