/// How 8-bit pixels become the model's floats: `(value / 255 - mean[c]) / std[c]`. The default
/// gives images in `[0, 1]`, what torchvision-style detectors (which normalise inside) expect;
/// ImageNet statistics give what a backbone trained on it expects.
public struct Normalization: Sendable, Equatable, Codable {
  public var mean: [Double]
  public var std: [Double]

  public init(mean: [Double] = [0, 0, 0], std: [Double] = [1, 1, 1]) {
    precondition(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 }, "Normalization: three means and three positive stds")
    self.mean = mean
    self.std = std
  }

  /// Images in `[0, 1]`.
  public static let unit = Normalization()
  /// torchvision's ImageNet statistics.
  public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

  /// One table of 256 floats per channel: normalising is a lookup per byte.
  func lookupTables() -> [[Float]] {
    (0..<3).map { c in (0..<256).map { Float((Double($0) / 255 - mean[c]) / std[c]) } }
  }
}
