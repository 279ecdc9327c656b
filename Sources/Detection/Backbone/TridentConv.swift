import NN
import Torch

/// TridentNet's branches (Li et al. 2019): one stage's 3×3 convolutions run once per branch,
/// every branch with the same weights and its own dilation, so the branches see the same
/// objects through different receptive fields.
public struct TridentBranches: Equatable, Sendable {
  /// Each branch's dilation (and padding), e.g. `[1, 2, 3]`.
  public var dilations: [Int]
  /// The one branch run at test time (TridentNet-Fast: the middle one); nil runs them all and
  /// merges their detections.
  public var testBranch: Int?

  public init(dilations: [Int], testBranch: Int?) {
    self.dilations = dilations
    self.testBranch = testBranch
  }

  /// The dilations of the branches that run: all of them in training or without a test branch.
  public func active(training: Bool) -> [Int] {
    guard !training, let testBranch else { return dilations }
    return [dilations[testBranch]]
  }
}

/// A 3×3 convolution shared by TridentNet's branches: its input holds the branches one after
/// another along the batch axis, and each part is convolved with its branch's dilation. The
/// weight is named as an ordinary convolution's (`conv2.weight`), so a TridentNet's checkpoint
/// has a plain ResNet's names (mmdetection's `TridentConv` has no bias either).
final class TridentConv: Module, UnaryLayer {
  @Parameter var weight: Tensor
  let stride: Int
  let groups: Int
  let branches: TridentBranches

  init(_ input: Int, _ output: Int, stride: Int, groups: Int, branches: TridentBranches, generator: Generator?) {
    let w = Tensor.empty([output, input / groups, 3, 3])
    Initializer.pytorchDefault(weight: w, bias: nil, generator: generator)
    _weight = Parameter(w)
    self.stride = stride
    self.groups = groups
    self.branches = branches
    super.init()
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let dilations = branches.active(training: isTraining)
    let parts = dilations.count == 1 ? [x] : x.chunked(dilations.count, axis: 0)
    precondition(parts.count == dilations.count, "TridentConv: a batch of \(x.shape[0]) does not split into \(dilations.count) branches")
    let outputs = zip(parts, dilations).map { part, d in
      Functional.conv2d(
        part, weight: weight, bias: nil, stride: (stride, stride), padding: (d, d), dilation: (d, d), groups: groups)
    }
    return outputs.count == 1 ? outputs[0] : Tensor.concatenate(outputs, axis: 0)
  }
}
