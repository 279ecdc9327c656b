import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// NAS-FPN: mmdetection's names, the five output levels, and its merging cells' arithmetic.
@Suite struct NASFPNTests {
  @Test func namesAndShapesFollowMMDetection() {
    let neck = NASFPN(
      inputChannels: [16, 32, 64], configuration: NASFPNConfiguration(channels: 8, repeats: 3), generator: Generator(seed: 1))
    let state = neck.stateDict()
    #expect(state["lateral_convs.2.conv.weight"]?.shape == [8, 64, 1, 1])
    #expect(state["lateral_convs.0.conv.bias"] == nil && state["lateral_convs.0.bn.running_var"] != nil)
    #expect(state["extra_downsamples.1.0.conv.weight"]?.shape == [8, 8, 1, 1])
    #expect(state["fpn_stages.2.sum_44_4.out_conv.conv.bias"]?.shape == [8])
    #expect(state["fpn_stages.0.gp_75_6.out_conv.bn.weight"] != nil)
    #expect(state["fpn_stages.1.gp_64_4.out_conv.conv.weight"]?.shape == [8, 8, 3, 3])
    #expect(!state.keys.contains { $0.contains("gp_43_5") || $0.contains("gp_54_7") })
    // Per stack: five sum cells and two pooling cells (gp_64_4, gp_75_6) with an output
    // convolution (weight, bias, and the norm's weight, bias, mean, variance and batch count), as
    // mmdetection 3.3's NASFPN.
    #expect(state.keys.filter { $0.hasPrefix("fpn_stages.1.") }.count == 7 * 7)
    neck.eval()
    let g = Generator(seed: 2)
    let features = [Tensor.rand([2, 16, 16, 16], generator: g), Tensor.rand([2, 32, 8, 8], generator: g), Tensor.rand([2, 64, 4, 4], generator: g)]
    let levels = neck(features)
    #expect(levels.map(\.shape) == [[2, 8, 16, 16], [2, 8, 8, 8], [2, 8, 4, 4], [2, 8, 2, 2], [2, 8, 1, 1]])
  }

  @Test func cellsResizeAsMMCVAndMergeBySumOrAttention() {
    let x = Tensor((0..<25).map(Float.init), shape: [1, 1, 5, 5])
    // 5×5 to 2×2: zero padding to 6×6 (one column and row after), then 3×3 max pooling.
    #expect(MergeCell.resized(x, to: (2, 2)).toArray(Float.self) == [12, 14, 22, 24])
    #expect(MergeCell.resized(x[.all, .all, ..<2, ..<2], to: (4, 4)).toArray(Float.self)
      == [0, 0, 1, 1, 0, 0, 1, 1, 5, 5, 6, 6, 5, 5, 6, 6])
    let a = Tensor.rand([1, 2, 4, 4], generator: Generator(seed: 3))
    let b = Tensor.rand([1, 2, 4, 4], generator: Generator(seed: 4))
    let attention = MergeCell(.globalPooling, channels: 2, outputConvolution: false, norm: nil, generator: nil)
    let expected = b + b.mean(axes: [2, 3], keepingDimensions: true).sigmoid() * a
    #expect(attention(a, b, size: (4, 4)).isEqual(to: expected))
    let sum = MergeCell(.sum, channels: 2, outputConvolution: false, norm: nil, generator: nil)
    #expect(sum(a, b, size: (4, 4)).isEqual(to: a + b))
  }
}
