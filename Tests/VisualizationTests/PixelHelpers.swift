import Data
import Visualization

/// Pixel queries shared by the tests.
extension Image {
  func rgb(x: Int, y: Int) -> RGB {
    RGB(r: self[x: x, y: y, channel: 0], g: self[x: x, y: y, channel: 1], b: self[x: x, y: y, channel: 2])
  }

  /// The (x, y) of every pixel for which `matches` holds.
  func pixels(where matches: (RGB) -> Bool) -> [(x: Int, y: Int)] {
    var found: [(x: Int, y: Int)] = []
    for y in 0..<height {
      for x in 0..<width where matches(rgb(x: x, y: y)) { found.append((x, y)) }
    }
    return found
  }

  func count(of color: RGB) -> Int { pixels { $0 == color }.count }
}

extension Canvas {
  func pixel(_ x: Int, _ y: Int) -> RGB? { color(x: x, y: y) }
}

let red = RGB(r: 255, g: 0, b: 0)
let blue = RGB(r: 0, g: 0, b: 255)
