import Foundation

/// Colours that tell classes and series apart.
public enum Palette {
  /// A saturated colour for class `index`, always the same for the same index.
  ///
  /// Hues step by the golden angle (about 137.5°), so any run of consecutive classes spreads
  /// over the whole colour wheel instead of crowding one part of it, however many classes a
  /// dataset has. Each later lap around the wheel is a little darker to stay apart from the
  /// one before.
  public static func color(forClass index: Int) -> RGB {
    let goldenTurn = 0.381_966_011_250_105  // 1 - 1/φ of a full turn
    let turns = Double(index) * goldenTurn
    let hue = turns - turns.rounded(.down)
    let lap = Int((Double(index) / 8).rounded(.down))
    let value = lap.isMultiple(of: 2) ? 0.95 : 0.75
    return fromHSV(hue: hue, saturation: 0.85, value: value)
  }

  /// A colour for line `index` of a plot: matplotlib's "tab10" first (dark enough to read as
  /// text on white, and familiar to anyone who reads training curves), then darker class
  /// colours.
  public static func seriesColor(_ index: Int) -> RGB {
    if (0..<tab10.count).contains(index) { return tab10[index] }
    let base = color(forClass: index)
    return RGB(r: base.r / 4 * 3, g: base.g / 4 * 3, b: base.b / 4 * 3)
  }

  /// Black or white, whichever contrasts more with `background` (WCAG relative luminance),
  /// for text drawn on a box of that colour.
  public static func readableText(on background: RGB) -> RGB {
    let luminance = relativeLuminance(background)
    let contrastWithBlack = (luminance + 0.05) / 0.05
    let contrastWithWhite = 1.05 / (luminance + 0.05)
    return contrastWithBlack >= contrastWithWhite ? .black : .white
  }

  private static let tab10: [RGB] = [
    RGB(r: 31, g: 119, b: 180), RGB(r: 255, g: 127, b: 14), RGB(r: 44, g: 160, b: 44),
    RGB(r: 214, g: 39, b: 40), RGB(r: 148, g: 103, b: 189), RGB(r: 140, g: 86, b: 75),
    RGB(r: 227, g: 119, b: 194), RGB(r: 127, g: 127, b: 127), RGB(r: 188, g: 189, b: 34),
    RGB(r: 23, g: 190, b: 207),
  ]

  private static func relativeLuminance(_ color: RGB) -> Double {
    func linear(_ channel: UInt8) -> Double {
      let value = Double(channel) / 255
      return value <= 0.04045 ? value / 12.92 : pow((value + 0.055) / 1.055, 2.4)
    }
    let red = 0.2126 * linear(color.r)
    let green = 0.7152 * linear(color.g)
    let blue = 0.0722 * linear(color.b)
    return red + green + blue
  }

  /// HSV with all three in 0...1 to 8-bit RGB.
  private static func fromHSV(hue: Double, saturation: Double, value: Double) -> RGB {
    let sector = hue * 6
    let index = Int(sector.rounded(.down)) % 6
    let fraction = sector - sector.rounded(.down)
    let p = value * (1 - saturation)
    let q = value * (1 - saturation * fraction)
    let t = value * (1 - saturation * (1 - fraction))
    let (r, g, b): (Double, Double, Double)
    switch index {
    case 0: (r, g, b) = (value, t, p)
    case 1: (r, g, b) = (q, value, p)
    case 2: (r, g, b) = (p, value, t)
    case 3: (r, g, b) = (p, q, value)
    case 4: (r, g, b) = (t, p, value)
    default: (r, g, b) = (value, p, q)
    }
    func byte(_ channel: Double) -> UInt8 { UInt8(min(max(channel * 255, 0), 255).rounded()) }
    return RGB(r: byte(r), g: byte(g), b: byte(b))
  }
}
