import Foundation

/// Random brightness, contrast, saturation and hue changes (torchvision's `ColorJitter` ranges:
/// a factor drawn from `1 ± brightness` and so on, a hue shift of up to `hue` turns).
///
/// All four are linear maps of RGB (brightness scales, contrast blends with the mean gray,
/// saturation blends with each pixel's gray, hue rotates chroma in YIQ space), so they are
/// composed into one 3x3 matrix plus offset and applied in a single pass.
public struct PhotometricJitter: Transform, Codable, Equatable {
  public var brightness: Double
  public var contrast: Double
  public var saturation: Double
  public var hue: Double

  public init(brightness: Double = 0.2, contrast: Double = 0.2, saturation: Double = 0.2, hue: Double = 0.02) {
    precondition(brightness >= 0 && contrast >= 0 && saturation >= 0 && (0...0.5).contains(hue), "PhotometricJitter: bad ranges")
    self.brightness = brightness
    self.contrast = contrast
    self.saturation = saturation
    self.hue = hue
  }

  public func apply(to sample: inout Sample, random: inout SeededRandom) {
    let b = random.uniform(max(0, 1 - brightness)...(1 + brightness))
    let c = random.uniform(max(0, 1 - contrast)...(1 + contrast))
    let s = random.uniform(max(0, 1 - saturation)...(1 + saturation))
    let h = random.uniform(-hue...hue)
    guard sample.image.channels >= 3 else { return }
    sample.image = sample.image.colorAdjusted(brightness: b, contrast: c, saturation: s, hueTurns: h)
  }
}

extension Image {
  /// The image with brightness, contrast and saturation factors (1 = unchanged) and a hue shift
  /// in turns (0 = unchanged) applied; results are clamped to 0...255.
  public func colorAdjusted(brightness: Double, contrast: Double, saturation: Double, hueTurns: Double) -> Image {
    precondition(channels >= 3, "colorAdjusted needs an RGB image")
    typealias Matrix = [[Double]]
    func multiply(_ a: Matrix, _ b: Matrix) -> Matrix {
      (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0) { $0 + a[i][$1] * b[$1][j] } } }
    }
    let gray = [0.299, 0.587, 0.114]
    // Brightness, then saturation, then hue: each a matrix on RGB.
    let brightnessMatrix: Matrix = [[brightness, 0, 0], [0, brightness, 0], [0, 0, brightness]]
    let saturationMatrix: Matrix = (0..<3).map { i in (0..<3).map { j in (1 - saturation) * gray[j] + (i == j ? saturation : 0) } }
    let angle = hueTurns * 2 * Double.pi
    let toYIQ: Matrix = [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
    let fromYIQ: Matrix = [[1, 0.956, 0.621], [1, -0.272, -0.647], [1, -1.106, 1.703]]
    let rotation: Matrix = [[1, 0, 0], [0, cos(angle), -sin(angle)], [0, sin(angle), cos(angle)]]
    let hueMatrix = multiply(fromYIQ, multiply(rotation, toYIQ))
    var m = multiply(hueMatrix, multiply(saturationMatrix, brightnessMatrix))
    // Contrast blends with the mean gray of the image after the other changes.
    var offset = 0.0
    if contrast != 1 {
      var sums = [0.0, 0.0, 0.0]
      let step = max(1, width * height / 4096)  // the mean of a sample of pixels is plenty
      var n = 0.0
      var p = 0
      while p < width * height {
        for k in 0..<3 { sums[k] += Double(pixels[p * channels + k]) }
        n += 1
        p += step
      }
      let meanColor = sums.map { $0 / n }
      let adjusted = (0..<3).map { i in (0..<3).reduce(0) { $0 + m[i][$1] * meanColor[$1] } }
      let meanGray = zip(gray, adjusted).reduce(0) { $0 + $1.0 * $1.1 }
      m = m.map { $0.map { $0 * contrast } }
      offset = (1 - contrast) * meanGray
    }
    // 16.16 fixed point.
    let fixed = m.flatMap { $0.map { Int32(($0 * 65536).rounded()) } }
    let fixedOffset = Int32((offset * 65536).rounded()) &+ 32768
    var output = pixels
    let c = channels
    pixels.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        for p in 0..<(width * height) {
          let base = p * c
          let r = Int32(input[base])
          let g = Int32(input[base + 1])
          let b = Int32(input[base + 2])
          for k in 0..<3 {
            let value = (fixed[k * 3] &* r &+ fixed[k * 3 + 1] &* g &+ fixed[k * 3 + 2] &* b &+ fixedOffset) >> 16
            out[base + k] = UInt8(clamping: value)
          }
        }
      }
    }
    return Image(width: width, height: height, channels: channels, pixels: output)
  }
}
