/// What a part declares about each feature map it produces, so the next part is built to fit it
/// (no channel counts written twice in a config).
public struct FeatureMapShape: Equatable, Sendable {
  public var channels: Int
  /// Input pixels per feature-map cell.
  public var stride: Int

  public init(channels: Int, stride: Int) {
    self.channels = channels
    self.stride = stride
  }
}
