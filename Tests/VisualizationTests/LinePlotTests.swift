import Data
import Foundation
import Testing
@testable import Visualization

@Suite struct LinePlotTests {
  let loss = Series(name: "loss", x: (0..<50).map { Double($0) * 20 }, y: (0..<50).map { 2 / (1 + Double($0)) })
  let accuracy = Series(name: "accuracy", x: [0, 500, 1000], y: [0.2, 0.6, 0.8])

  @Test func pictureHasTheRequestedSizeAndEverySeriesColour() {
    let panels = [
      PlotPanel(title: "loss", series: [loss], logScaleY: true),
      PlotPanel(title: "accuracy", series: [loss, accuracy]),
    ]
    let picture = LinePlot.render(panels: panels)
    #expect(picture.width == 1200)
    #expect(picture.height == 640)
    #expect(picture.channels == 3)
    let firstPanelLoss = picture.pixels { $0 == Palette.seriesColor(0) }.filter { $0.y < 320 }
    let secondPanelAccuracy = picture.pixels { $0 == Palette.seriesColor(1) }.filter { $0.y >= 320 }
    #expect(firstPanelLoss.count > 200)
    #expect(secondPanelAccuracy.count > 200)
  }

  @Test func decreasingCurveGoesDownToTheRight() {
    let picture = LinePlot.render(panels: [PlotPanel(title: "", series: [loss])], width: 400, panelHeight: 200)
    let ink = picture.pixels { $0 == Palette.seriesColor(0) }
    // Leave out the legend's stroke at the top right.
    let curve = ink.filter { $0.x < 250 }
    let left = curve.filter { $0.x < 100 }.map(\.y)
    let right = curve.filter { $0.x > 200 }.map(\.y)
    let leftMean = Double(left.reduce(0, +)) / Double(max(left.count, 1))
    let rightMean = Double(right.reduce(0, +)) / Double(max(right.count, 1))
    #expect(!left.isEmpty)
    #expect(!right.isEmpty)
    #expect(leftMean < rightMean)
  }

  @Test func oddDataDoesNotTrap() {
    let nan = Double.nan
    let odd: [Series] = [
      Series(name: "nan", x: [0, 1, 2, 3], y: [1, nan, .infinity, 2]),
      Series(name: "single", points: [(x: 5, y: 5)]),
      Series(name: "flat", x: [0, 1, 2], y: [3, 3, 3]),
      Series(name: "huge x", x: [0, 1e15, 1e300, .greatestFiniteMagnitude], y: [1, 2, 3, 4]),
      Series(name: "all nan", x: [nan, nan], y: [nan, nan]),
      Series(name: "", points: []),
    ]
    let panels = odd.map { PlotPanel(title: $0.name, series: [$0]) } + [
      PlotPanel(title: "log with zeros", series: [Series(name: "z", x: [0, 1, 2], y: [0, -1, 1e-3])], logScaleY: true),
      PlotPanel(title: "log all negative", series: [Series(name: "n", x: [0, 1], y: [-1, -2])], logScaleY: true),
    ]
    let picture = LinePlot.render(panels: panels, width: 300, panelHeight: 120)
    #expect(picture.height == 120 * panels.count)
    let single = LinePlot.render(panels: [panels[1]], width: 300, panelHeight: 120)
    let dot = single.count(of: Palette.seriesColor(0))
    #expect(dot >= 25)
  }

  @Test func emptyPanelsSayNoData() {
    let empty = LinePlot.render(panels: [PlotPanel(title: "", series: [])], width: 300, panelHeight: 120)
    let none = LinePlot.render(panels: [], width: 10, panelHeight: 10)
    let quiet = RGB(r: 130, g: 130, b: 130)
    #expect(empty.count(of: quiet) > 30)
    #expect(none.width == LinePlot.minimumWidth)
    #expect(none.height == LinePlot.minimumPanelHeight)
  }

  @Test func linearTicksAreRoundAndFew() {
    let steps = PlotAxis.linear(covering: 0, 1000)
    #expect(steps.ticks.map(\.label) == ["0", "200", "400", "600", "800", "1k"])
    let fine = PlotAxis.linear(covering: 0.013, 0.048)
    #expect(fine.ticks.map(\.label) == ["0.01", "0.02", "0.03", "0.04", "0.05"])
    for (low, high) in [(0.0, 1.0), (-3.0, 7.0), (17.0, 9_123.0), (0.5, 0.5), (0.0, 0.0), (-1e300, 1e300), (3.0, 3.0001)] {
      let axis = PlotAxis.linear(covering: low, high)
      let count = axis.ticks.count
      let covers = axis.low <= low && axis.high >= high
      #expect((4...6).contains(count), "\(low)...\(high)")
      #expect(covers, "\(low)...\(high): \(axis.low)...\(axis.high)")
    }
  }

  @Test func logTicksArePowersOfTenOrSteps() {
    let decades = PlotAxis.logarithmic(covering: 0.0012, 3.5)
    #expect(decades.ticks.map(\.label) == ["1e-3", "0.01", "0.1", "1", "10"])
    let oneDecade = PlotAxis.logarithmic(covering: 0.02, 0.07)
    #expect(oneDecade.ticks.map(\.label) == ["0.01", "0.02", "0.05", "0.1"])
    let many = PlotAxis.logarithmic(covering: 1e-9, 1e3)
    let count = many.ticks.count
    #expect((4...6).contains(count))
  }

  @Test func tickLabelsAreCompact() {
    #expect(TickLabel.compact(1500, resolution: 500) == "1.5k")
    #expect(TickLabel.compact(2_000_000, resolution: 1_000_000) == "2M")
    #expect(TickLabel.compact(0.002, resolution: 0.002) == "2e-3")
    #expect(TickLabel.compact(0.25, resolution: 0.05) == "0.25")
    #expect(TickLabel.compact(-0.0, resolution: 1) == "0")
    #expect(TickLabel.compact(2e20, resolution: 1e20) == "2e20")
    #expect(TickLabel.compact(0.30000000000000004, resolution: 0.1) == "0.3")
  }
}
