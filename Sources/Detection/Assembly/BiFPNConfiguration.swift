import NN

/// BiFPN's settings (`model.neck: {kind: bifpn}`). The defaults are EfficientDet-D0's neck (Tan
/// et al. 2020): 64 channels, 3 repeated layers, batch norm with TensorFlow's momentum 0.99
/// (PyTorch's 0.01) and epsilon 1e-3.
public struct BiFPNConfiguration: Codable, Equatable, Sendable {
  /// Channels of every level (EfficientDet-D0 to D7: 64, 88, 112, 160, 224, 288, 384, 384).
  public var channels = 64
  /// How many BiFPN layers are stacked (D0 to D7: 3, 4, 5, 6, 7, 7, 8, 8).
  public var repeats = 3
  /// Normalisation after every convolution (null: none, the convolutions get biases).
  @Nullable public var norm: NormKind? = .batchNorm
  /// Fast normalised fusion's ε: a node outputs `Σ relu(wᵢ)·xᵢ / (Σ relu(wⱼ) + ε)`.
  public var fusionEpsilon = 1e-4
  /// Activation checkpointing in training: keep only the neck's inputs and recompute it in
  /// backward.
  public var checkpoint = false

  public init(channels: Int = 64, repeats: Int = 3, norm: NormKind? = .batchNorm) {
    self.channels = channels
    self.repeats = repeats
    self.norm = norm
  }
}
