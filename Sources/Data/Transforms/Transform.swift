/// A step of the data pipeline. Random transforms draw only from `random`, which the loader seeds
/// from `(seed, epoch, image index)`: the same image gets the same augmentation whichever worker
/// runs it, so runs are reproducible and a resumed run sees the data it would have seen.
public protocol Transform: Sendable {
  func apply(to sample: inout Sample, random: inout SeededRandom)
}

/// Transforms applied in order.
public struct TransformPipeline: Sendable {
  public var transforms: [any Transform]

  public init(_ transforms: [any Transform]) {
    self.transforms = transforms
  }

  /// The pipeline a configuration declares.
  public init(_ specs: [TransformSpec]) {
    self.init(specs.map(\.transform))
  }

  public func apply(to sample: inout Sample, random: inout SeededRandom) {
    for transform in transforms { transform.apply(to: &sample, random: &random) }
  }
}
