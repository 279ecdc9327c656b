import Foundation

/// The range of one plot axis and its tick marks, chosen so that ticks fall on round numbers
/// (multiples of 1, 2, 2.5 or 5 times a power of ten, or powers of ten on a log axis) and the
/// range ends on ticks.
struct PlotAxis {
  /// The range shown, in axis units: data units, or their log10 on a log axis.
  var low: Double
  var high: Double
  var isLogarithmic: Bool
  /// Tick positions in axis units, with their labels.
  var ticks: [(position: Double, label: String)]

  /// Where `value` (in data units) falls: 0 at `low`, 1 at `high`.
  func fraction(of value: Double) -> Double {
    let position = isLogarithmic ? log10(value) : value
    return (position - low) / (high - low)
  }

  /// A linear axis covering `low...high` (finite, at most about 1e300 in size) with 4 to 6
  /// ticks. A range of one value is widened around it so that a flat curve sits mid-panel.
  static func linear(covering low: Double, _ high: Double) -> PlotAxis {
    var low = low
    var high = high
    let magnitude = max(abs(low), abs(high))
    if high - low <= magnitude * 1e-6 {
      let half = magnitude > 0 ? magnitude * 0.1 : 1
      low -= half
      high += half
    }
    let step = niceStep(low: low, high: high)
    let first = (low / step).rounded(.down)
    let last = (high / step).rounded(.up)
    let count = Int(last - first) + 1
    let ticks = (0..<count).map { offset -> (position: Double, label: String) in
      var value = (first + Double(offset)) * step
      if abs(value) < step * 1e-9 { value = 0 }
      return (value, TickLabel.compact(value, resolution: step))
    }
    // min and max guard against rounding in first * step leaving an end value just outside.
    return PlotAxis(low: min(first * step, low), high: max(last * step, high), isLogarithmic: false, ticks: ticks)
  }

  /// A log10 axis covering `low...high` (both positive), extended to whole decades. Few
  /// decades get ticks at 1, 2 and 5 (or 1 and 3) times each power of ten so that there are
  /// still 4 to 6 of them; many decades get every first, second, ... decade.
  static func logarithmic(covering low: Double, _ high: Double) -> PlotAxis {
    let firstDecade = (log10(low) + 1e-9).rounded(.down)
    var lastDecade = (log10(high) - 1e-9).rounded(.up)
    if lastDecade <= firstDecade { lastDecade = firstDecade + 1 }
    let decades = Int(lastDecade - firstDecade)
    var values: [Double] = []
    switch decades {
    case 1, 2:
      let mantissas: [Double] = decades == 1 ? [1, 2, 5] : [1, 3]
      for decade in 0..<decades {
        for mantissa in mantissas { values.append(mantissa * pow(10, firstDecade + Double(decade))) }
      }
      values.append(pow(10, lastDecade))
    default:
      let stride = (decades + 4) / 5
      lastDecade = firstDecade + Double((decades + stride - 1) / stride * stride)
      for decade in Swift.stride(from: firstDecade, through: lastDecade, by: Double(stride)) {
        values.append(pow(10, decade))
      }
    }
    let ticks = values.map { value in (position: log10(value), label: TickLabel.compact(value, resolution: value)) }
    return PlotAxis(low: firstDecade, high: lastDecade, isLogarithmic: true, ticks: ticks)
  }

  /// The round step that gives 4 to 6 ticks and wastes the least of the axis; among equals,
  /// steps of 1, 2 and 5 beat 2.5 and fewer ticks beat more.
  private static func niceStep(low: Double, high: Double) -> Double {
    let span = high - low
    let exponent = log10(span / 4).rounded(.down)
    var best: (step: Double, score: Double)?
    for power in [exponent - 1, exponent, exponent + 1] {
      for mantissa in [1, 2, 2.5, 5] {
        let step = mantissa * pow(10, power)
        let first = (low / step).rounded(.down)
        let last = (high / step).rounded(.up)
        let count = last - first + 1
        let wasted = (last - first) * step / span - 1
        let outside = count < 4 ? 4 - count : count > 6 ? count - 6 : 0
        let oddMantissa = mantissa == 2.5 ? 0.01 : 0
        let score = outside * 100 + wasted + oddMantissa + count * 0.001
        if best == nil || score < best!.score { best = (step, score) }
      }
    }
    return best!.step
  }
}

/// Short tick labels: "1.5k", "2M", "0.25", "2e-3".
enum TickLabel {
  /// `value` with as many decimals as telling apart values `resolution` apart needs, written
  /// with a k/M/G/T suffix from 1000 up and in scientific notation below 0.01 and from 1e15.
  static func compact(_ value: Double, resolution: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == 0 { return "0" }
    let magnitude = abs(value)
    let resolution = resolution.isFinite && resolution != 0 ? abs(resolution) : magnitude
    if magnitude >= 1e15 || magnitude < 0.01 {
      let exponent = log10(magnitude).rounded(.down)
      let unit = pow(10, exponent)
      let mantissa = fixed(value / unit, resolution: max(resolution / unit, 0.001))
      return "\(mantissa)e\(Int(exponent))"
    }
    for (unit, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where magnitude >= unit {
      return fixed(value / unit, resolution: resolution / unit) + suffix
    }
    return fixed(value, resolution: resolution)
  }

  /// Fixed-point text with the fewest decimals (up to 6) that show multiples of `resolution`
  /// exactly, trailing zeros removed.
  private static func fixed(_ value: Double, resolution: Double) -> String {
    var decimals = 0
    while decimals < 6 {
      let scaled = resolution * pow(10, Double(decimals))
      if abs(scaled - scaled.rounded()) <= 1e-6 * max(1, scaled) { break }
      decimals += 1
    }
    var text = String(format: "%.\(decimals)f", value)
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
  }
}
