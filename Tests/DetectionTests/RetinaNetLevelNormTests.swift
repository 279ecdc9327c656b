import Testing
@testable import Detection
@testable import NN
@testable import Torch

/// RetinaNet's towers with `normPerLevel` (mmdetection's RetinaSepBNHead): convolutions shared by
/// the levels, a norm of each level's own, in inference and in training.
@Suite struct RetinaNetLevelNormTests {
  static func head(normPerLevel: Bool = true) -> RetinaNetHead {
    var c = RetinaNetHeadConfiguration()
    c.anchorSizes = [[16], [32], [64]]
    c.aspectRatios = [[1], [1], [1]]
    c.norm = .batchNorm
    c.normPerLevel = normPerLevel
    return RetinaNetHead(configuration: c, channels: 4, classes: 3, generator: Generator(seed: 1))
  }

  static var features: [Tensor] {
    [[1, 4, 8, 8], [1, 4, 4, 4], [1, 4, 2, 2]].enumerated().map { i, shape in
      Tensor.rand(shape, generator: Generator(seed: UInt64(10 + i)))
    }
  }

  @Test func oneConvolutionPerBlockAndANormPerLevel() {
    let state = Self.head().stateDict()
    #expect(state["classification_head.conv.3.0.weight"]?.shape == [4, 4, 3, 3])
    #expect(state["classification_head.conv.3.0.bias"] == nil)
    #expect(state["regression_head.conv.0.1.2.running_mean"]?.shape == [4])
    #expect(state["regression_head.conv.0.1.3.running_mean"] == nil)
    // Four blocks, each one convolution and three batch norms (weight, bias, mean, variance, count).
    #expect(state.keys.filter { $0.hasPrefix("classification_head.conv.") }.count == 4 * (1 + 3 * 5))
    // Shared norms keep torchvision's names.
    let shared = Self.head(normPerLevel: false).stateDict()
    #expect(shared["classification_head.conv.3.1.running_mean"]?.shape == [4])
    #expect(shared.keys.filter { $0.hasPrefix("classification_head.conv.") }.count == 4 * (1 + 5))
  }

  /// Changing level 2's norm changes level 2's outputs only (8·8 + 4·4 anchors before it).
  @Test func eachLevelRunsThroughItsOwnNorm() throws {
    let head = Self.head()
    head.eval()
    let (logits, offsets) = head(Self.features)
    var state = head.stateDict()
    state["regression_head.conv.0.1.2.bias"] = Tensor.full([4], value: 0.5)
    state["classification_head.conv.1.1.2.running_mean"] = Tensor.full([4], value: -0.3)
    _ = try head.load(stateDict: state)
    let (changedLogits, changedOffsets) = head(Self.features)
    for (before, after) in [(logits, changedLogits), (offsets, changedOffsets)] {
      #expect(before.sliced(axis: 1, 0..<80).isEqual(to: after.sliced(axis: 1, 0..<80)))
      #expect(!before.sliced(axis: 1, 80..<84).isEqual(to: after.sliced(axis: 1, 80..<84)))
    }
  }

  /// Training reaches the shared convolution and every level's norm (the classification loss
  /// counts every anchor; the box loss only the one matched anchor's level).
  @Test func trainingReachesEveryLevelsNorm() throws {
    let head = Self.head()
    head.train()
    let batch = ImageBatch(tensor: Tensor.zeros([1, 3, 64, 64]), imageSizes: [(64, 64)], originalSizes: [(64, 64)])
    let target = Instances(
      imageSize: (64, 64), fields: ["boxes": Tensor([Float(8), 8, 40, 40], shape: [1, 4]), "labels": Tensor([Int64(1)])])
    let losses = head.losses(features: Self.features, batch: batch, targets: [target])
    (losses["classification"]! + losses["bbox_regression"]!).backward()
    let parameters = Dictionary(uniqueKeysWithValues: head.namedParameters())
    for name in ["classification_head.conv.0.0.weight", "regression_head.conv.0.0.weight"] {
      let shared = try #require(parameters[name]?.grad, "\(name)")
      #expect(shared.abs().sum().doubleValue() > 0, "\(name)")
    }
    for level in 0..<3 {
      let grad = try #require(parameters["classification_head.conv.3.1.\(level).weight"]?.grad, "level \(level)")
      #expect(grad.abs().sum().doubleValue() > 0, "level \(level)")
    }
  }
}
