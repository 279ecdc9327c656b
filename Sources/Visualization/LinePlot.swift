import Data

/// One curve of a plot: a name for the legend and its points in drawing order.
public struct Series: Sendable {
  public var name: String
  /// Consecutive points are joined; a NaN or infinite point leaves a gap.
  public var points: [(x: Double, y: Double)]
  /// nil picks `Palette.seriesColor` by the series' place in its panel.
  public var color: RGB?

  public init(name: String, points: [(x: Double, y: Double)], color: RGB? = nil) {
    self.name = name
    self.points = points
    self.color = color
  }

  /// Points from parallel arrays, as metrics files hold them; the longer array's extra values
  /// are ignored.
  public init(name: String, x: [Double], y: [Double], color: RGB? = nil) {
    self.init(name: name, points: zip(x, y).map { (x: $0, y: $1) }, color: color)
  }
}

/// One chart of a plot: a title and the curves that share its axes.
public struct PlotPanel: Sendable {
  public var title: String
  public var series: [Series]
  /// A log10 y axis, for losses that fall over decades; points with y <= 0 are left out.
  public var logScaleY: Bool

  public init(title: String, series: [Series], logScaleY: Bool = false) {
    self.title = title
    self.series = series
    self.logScaleY = logScaleY
  }
}

/// Training curves as a picture: panels stacked top to bottom, each with a title, a frame,
/// round-numbered ticks on both axes, light grid lines, one line per series and a legend.
public enum LinePlot {
  /// The smallest sizes that leave room for the axes; smaller requests are raised to them.
  public static let minimumWidth = 160
  public static let minimumPanelHeight = 100

  /// The picture of `panels`, `width` pixels wide and `panelHeight` tall per panel (one
  /// empty panel when `panels` is empty). Points that are NaN, infinite or beyond ±1e300, and
  /// non-positive y on log panels, are skipped; a panel left with no points says "no data".
  public static func render(panels: [PlotPanel], width: Int = 1200, panelHeight: Int = 320) -> Image {
    let width = min(max(width, minimumWidth), 16_384)
    let panelHeight = min(max(panelHeight, minimumPanelHeight), 16_384)
    let panels = panels.isEmpty ? [PlotPanel(title: "", series: [])] : panels
    var canvas = Canvas(width: width, height: panelHeight * panels.count)
    for (index, panel) in panels.enumerated() {
      var renderer = PanelRenderer(panel: panel, top: index * panelHeight, height: panelHeight, width: width)
      renderer.draw(on: &canvas)
    }
    return canvas.image
  }
}

/// Lays out and draws one panel; the plot area is the pixels from `plotLeft` to `plotRight`
/// and `plotTop` to `plotBottom`, inclusive.
private struct PanelRenderer {
  static let textColor = RGB(r: 40, g: 40, b: 40)
  static let frameColor = RGB(r: 90, g: 90, b: 90)
  static let gridColor = RGB(r: 228, g: 228, b: 228)
  static let quietColor = RGB(r: 130, g: 130, b: 130)
  static let lineThickness = 2
  static let tickLength = 4
  /// Beyond this, squaring coordinates while drawing could overflow a Double.
  static let largestValue = 1e300

  let panel: PlotPanel
  let top: Int
  let height: Int
  let width: Int
  let titleScale: Int
  let textScale: Int
  var plotLeft = 0
  var plotRight = 0
  var plotTop = 0
  var plotBottom = 0

  init(panel: PlotPanel, top: Int, height: Int, width: Int) {
    self.panel = panel
    self.top = top
    self.height = height
    self.width = width
    // Titles at double size from 600 pixels; tick text stays at 1 until the picture is very
    // wide, since ticks need room and 5×7 glyphs read well at 1:1.
    titleScale = width >= 600 ? 2 : 1
    textScale = width >= 1600 ? 2 : 1
  }

  mutating func draw(on canvas: inout Canvas) {
    let title = Canvas.textSize(panel.title, scale: titleScale)
    canvas.drawText(panel.title, x: (width - title.width) / 2, y: top + 6, color: Self.textColor, scale: titleScale)
    let glyph = Canvas.textSize("0", scale: textScale)
    plotTop = top + 6 + max(title.height, glyph.height) + 10
    plotBottom = top + height - glyph.height - 14

    let curves = panel.series.map { usablePoints($0.points) }
    let points = curves.flatMap { $0.compactMap { $0 } }
    guard let xRange = range(points.map(\.x)), let yRange = range(points.map(\.y)) else {
      drawNoData(on: &canvas)
      return
    }
    let xAxis = PlotAxis.linear(covering: xRange.low, xRange.high)
    let yAxis =
      panel.logScaleY
      ? PlotAxis.logarithmic(covering: yRange.low, yRange.high) : PlotAxis.linear(covering: yRange.low, yRange.high)
    let yLabelWidth = yAxis.ticks.map { Canvas.textSize($0.label, scale: textScale).width }.max() ?? 0
    let lastXLabelWidth = Canvas.textSize(xAxis.ticks.last?.label ?? "", scale: textScale).width
    plotLeft = 8 + yLabelWidth + Self.tickLength + 4
    plotRight = width - 1 - max(12, lastXLabelWidth / 2 + 4)
    guard plotRight - plotLeft >= 20, plotBottom - plotTop >= 20 else { return }

    drawGrid(xAxis: xAxis, yAxis: yAxis, on: &canvas)
    for (index, curve) in curves.enumerated() {
      let color = panel.series[index].color ?? Palette.seriesColor(index)
      drawCurve(curve, xAxis: xAxis, yAxis: yAxis, color: color, on: &canvas)
    }
    drawLegend(on: &canvas)
  }

  /// The points that can be drawn, nil where one cannot (a gap in the line).
  private func usablePoints(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)?] {
    points.map { point in
      let drawable =
        point.x.isFinite && point.y.isFinite && abs(point.x) <= Self.largestValue
        && abs(point.y) <= Self.largestValue && (!panel.logScaleY || point.y > 0)
      return drawable ? point : nil
    }
  }

  private func range(_ values: [Double]) -> (low: Double, high: Double)? {
    guard let low = values.min(), let high = values.max() else { return nil }
    return (low, high)
  }

  private mutating func drawNoData(on canvas: inout Canvas) {
    plotLeft = 12
    plotRight = width - 13
    guard plotBottom > plotTop else { return }
    drawFrame(on: &canvas)
    let text = "no data"
    let size = Canvas.textSize(text, scale: titleScale)
    canvas.drawText(
      text, x: (plotLeft + plotRight - size.width) / 2, y: (plotTop + plotBottom - size.height) / 2,
      color: Self.quietColor, scale: titleScale)
  }

  private func drawFrame(on canvas: inout Canvas) {
    canvas.drawRectangle(
      x1: Double(plotLeft), y1: Double(plotTop), x2: Double(plotRight + 1), y2: Double(plotBottom + 1),
      color: Self.frameColor, thickness: 1)
  }

  /// Grid lines and tick marks at every tick, labels beside them, then the frame over the
  /// grid's ends.
  private func drawGrid(xAxis: PlotAxis, yAxis: PlotAxis, on canvas: inout Canvas) {
    let labelHeight = Canvas.textSize("0", scale: textScale).height
    for tick in xAxis.ticks {
      let column = Int(horizontal(axisFraction(tick.position, xAxis)).rounded(.down))
      canvas.fillPixels(
        left: column, top: plotTop, right: column, bottom: plotBottom, color: Self.gridColor, opacity: 1)
      canvas.fillPixels(
        left: column, top: plotBottom + 1, right: column, bottom: plotBottom + Self.tickLength,
        color: Self.frameColor, opacity: 1)
      let labelWidth = Canvas.textSize(tick.label, scale: textScale).width
      let labelLeft = min(max(column - labelWidth / 2, 0), width - labelWidth)
      canvas.drawText(
        tick.label, x: labelLeft, y: plotBottom + Self.tickLength + 4, color: Self.textColor, scale: textScale)
    }
    // Centre labels on the 7 rows of digits, not on the descender rows below them.
    let digitsHalfHeight = labelHeight * 7 / 9 / 2
    for tick in yAxis.ticks {
      let row = Int(vertical(axisFraction(tick.position, yAxis)).rounded(.down))
      canvas.fillPixels(left: plotLeft, top: row, right: plotRight, bottom: row, color: Self.gridColor, opacity: 1)
      canvas.fillPixels(
        left: plotLeft - Self.tickLength, top: row, right: plotLeft - 1, bottom: row, color: Self.frameColor,
        opacity: 1)
      let labelWidth = Canvas.textSize(tick.label, scale: textScale).width
      canvas.drawText(
        tick.label, x: plotLeft - Self.tickLength - 4 - labelWidth, y: row - digitsHalfHeight,
        color: Self.textColor, scale: textScale)
    }
    drawFrame(on: &canvas)
  }

  /// Joins consecutive drawable points; a point with no drawable neighbour gets a dot, since
  /// it would otherwise not show at all.
  private func drawCurve(
    _ curve: [(x: Double, y: Double)?], xAxis: PlotAxis, yAxis: PlotAxis, color: RGB, on canvas: inout Canvas
  ) {
    let positions = curve.map { point in
      point.map { (x: horizontal(xAxis.fraction(of: $0.x)), y: vertical(yAxis.fraction(of: $0.y))) }
    }
    for (index, position) in positions.enumerated() {
      guard let position else { continue }
      let previous = index > 0 ? positions[index - 1] : nil
      let next = index + 1 < positions.count ? positions[index + 1] : nil
      if let previous {
        canvas.drawLine(from: previous, to: position, color: color, thickness: Self.lineThickness)
      } else if next == nil {
        let x = Int(position.x.rounded(.down))
        let y = Int(position.y.rounded(.down))
        canvas.fillPixels(left: x - 2, top: y - 2, right: x + 2, bottom: y + 2, color: color, opacity: 1)
      }
    }
  }

  /// Series names in their colours, each after a short stroke of its line, in a box at the
  /// plot area's top-right corner.
  private func drawLegend(on canvas: inout Canvas) {
    let entries = panel.series.enumerated().filter { !$0.element.name.isEmpty }
    guard !entries.isEmpty else { return }
    let padding = 6
    let swatch = 16 * textScale
    let rowHeight = BitmapFont.lineHeight * textScale + 2
    let nameWidth = entries.map { Canvas.textSize($0.element.name, scale: textScale).width }.max() ?? 0
    let boxWidth = 2 * padding + swatch + 6 + nameWidth
    let boxHeight = 2 * padding + rowHeight * entries.count - 2
    let boxRight = plotRight - 6
    let boxLeft = max(boxRight - boxWidth + 1, plotLeft + 1)
    let boxTop = plotTop + 6
    canvas.fillPixels(
      left: boxLeft, top: boxTop, right: boxRight, bottom: boxTop + boxHeight - 1, color: .white, opacity: 0.85)
    canvas.drawRectangle(
      x1: Double(boxLeft), y1: Double(boxTop), x2: Double(boxRight + 1), y2: Double(boxTop + boxHeight),
      color: Self.gridColor, thickness: 1)
    for (row, entry) in entries.enumerated() {
      let color = entry.element.color ?? Palette.seriesColor(entry.offset)
      let rowTop = boxTop + padding + row * rowHeight
      let middle = Double(rowTop) + Double(7 * textScale) / 2
      let swatchLeft = Double(boxLeft + padding)
      canvas.drawLine(
        from: (swatchLeft, middle), to: (swatchLeft + Double(swatch), middle), color: color,
        thickness: Self.lineThickness)
      canvas.drawText(
        entry.element.name, x: boxLeft + padding + swatch + 6, y: rowTop, color: color, scale: textScale)
    }
  }

  private func axisFraction(_ position: Double, _ axis: PlotAxis) -> Double {
    (position - axis.low) / (axis.high - axis.low)
  }

  /// Canvas x of a fraction of the x axis, from the centre of the first plot column to the
  /// centre of the last.
  private func horizontal(_ fraction: Double) -> Double {
    Double(plotLeft) + 0.5 + fraction * Double(plotRight - plotLeft)
  }

  /// Canvas y of a fraction of the y axis, upwards from the centre of the bottom plot row.
  private func vertical(_ fraction: Double) -> Double {
    Double(plotBottom) + 0.5 - fraction * Double(plotBottom - plotTop)
  }
}
