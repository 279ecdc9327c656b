import Torch

/// Batches of small gray images each holding one filled circle, square or triangle of random
/// size, position and brightness on a noisy background: a classification task that a small CNN
/// learns in a few hundred steps, used to check the whole training stack end to end.
public struct SyntheticShapes {
  public static let classNames = ["circle", "square", "triangle"]
  public let imageSize: Int
  let generator: Generator

  public init(imageSize: Int = 24, seed: UInt64) {
    self.imageSize = imageSize
    generator = Generator(seed: seed)
  }

  /// `count` images `[count, 1, size, size]` (float32) and their labels `[count]` (int64).
  public func batch(_ count: Int) -> (images: Tensor, labels: Tensor) {
    let size = Double(imageSize)
    let labels = Tensor.randint(0..<3, shape: [count], generator: generator)
    let radius = Tensor.rand([count, 1, 1], generator: generator) * (size * 0.2) + size * 0.15
    let margin = radius + 1
    let cx = margin + Tensor.rand([count, 1, 1], generator: generator) * (size - 2 * margin)
    let cy = margin + Tensor.rand([count, 1, 1], generator: generator) * (size - 2 * margin)
    let ys = Tensor.arange(imageSize, dtype: .float32).reshaped([1, imageSize, 1]) + 0.5
    let xs = Tensor.arange(imageSize, dtype: .float32).reshaped([1, 1, imageSize]) + 0.5
    let dx = xs - cx
    let dy = ys - cy

    let circle = (dx * dx + dy * dy) .<= radius * radius
    let square = (dx.abs() .<= radius * 0.85) .&& (dy.abs() .<= radius * 0.85)
    // An upright isosceles triangle: apex at the top, base at the bottom of the box.
    let fromApex = dy + radius
    let triangle = (fromApex .>= 0) .&& (dy .<= radius) .&& (dx.abs() .<= fromApex * 0.6)

    let kind = labels.reshaped([count, 1, 1])
    let shapeMask = Tensor.select(where: kind .== 0, circle, Tensor.select(where: kind .== 1, square, triangle))
    let brightness = Tensor.rand([count, 1, 1], generator: generator) * 0.5 + 0.5
    let noise = Tensor.randn([count, imageSize, imageSize], generator: generator) * 0.15
    let images = shapeMask.to(.float32) * brightness + noise
    return (images.unsqueezed(axis: 1), labels)
  }
}
