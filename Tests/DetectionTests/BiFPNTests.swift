import Foundation
import Testing
@testable import Detection
@testable import NN
@testable import Torch

@Suite struct BiFPNTests {
  /// C3–C5 of a 128×128 image in, P3–P7 at strides 8 to 128 out, every level at the BiFPN's width.
  @Test func threeMapsBecomeFiveLevels() {
    let neck = BiFPN(inputChannels: [40, 112, 320], configuration: BiFPNConfiguration(), generator: Generator(seed: 1))
    neck.eval()
    let g = Generator(seed: 2)
    let inputs = [Tensor.randn([2, 40, 16, 16], generator: g), Tensor.randn([2, 112, 8, 8], generator: g), Tensor.randn([2, 320, 4, 4], generator: g)]
    let outputs = withNoGrad { neck(inputs) }
    #expect(outputs.map(\.shape) == [16, 8, 4, 2, 1].map { [2, 64, $0, $0] })
    #expect(NeckConfiguration.biFPN(BiFPNConfiguration()).outputShapes(input: [
      FeatureMapShape(channels: 40, stride: 8), FeatureMapShape(channels: 112, stride: 16), FeatureMapShape(channels: 320, stride: 32),
    ]) == [8, 16, 32, 64, 128].map { FeatureMapShape(channels: 64, stride: $0) })
    // Only the first layer projects the backbone's maps (P3–P5 and the bottom-up P4, P5).
    let names = neck.stateDict().keys
    #expect(names.contains("layers.0.lateral.2.conv.weight") && names.contains("layers.0.skip.1.conv.weight"))
    #expect(!names.contains { $0.hasPrefix("layers.1.lateral") || $0.hasPrefix("layers.1.skip") })
    #expect(names.contains("layers.2.bottom_up.3.weight") && names.contains("p6_projection.conv.weight"))
  }

  /// Fast normalised fusion: weights through ReLU, divided by their sum plus ε, then Swish and the
  /// separable convolution. A negative weight switches its input off.
  @Test func fusionWeighsInputsByTheirRectifiedShare() throws {
    let node = FusionNode(inputs: 3, channels: 8, norm: nil, epsilon: 1e-4, generator: Generator(seed: 3))
    withNoGrad { node.weight.copy(from: Tensor([Float(3), 1, -2])) }
    let g = Generator(seed: 4)
    let inputs = (0..<3).map { _ in Tensor.randn([1, 8, 5, 5], generator: g) }
    let fused = (inputs[0] * 3 + inputs[1]) / (4 + 1e-4)
    let expected = withNoGrad { node.conv(fused.silu()) }
    let got = withNoGrad { node(inputs) }
    #expect((got - expected).abs().max().doubleValue() < 1e-5)
  }
}
