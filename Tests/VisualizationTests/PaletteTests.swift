import Testing
import Visualization

@Suite struct PaletteTests {
  @Test func classColoursAreDistinctAndStable() {
    let colors = (0..<20).map { Palette.color(forClass: $0) }
    #expect(Set(colors).count == 20)
    let again = (0..<20).map { Palette.color(forClass: $0) }
    #expect(colors == again)
  }

  @Test func neighbouringClassesAreFarApart() {
    func distance(_ a: RGB, _ b: RGB) -> Int {
      abs(Int(a.r) - Int(b.r)) + abs(Int(a.g) - Int(b.g)) + abs(Int(a.b) - Int(b.b))
    }
    let nearest = (0..<19).map { distance(Palette.color(forClass: $0), Palette.color(forClass: $0 + 1)) }.min() ?? 0
    #expect(nearest > 150)
  }

  @Test func classColoursAreSaturated() {
    for index in 0..<20 {
      let color = Palette.color(forClass: index)
      let channels = [color.r, color.g, color.b]
      let spread = Int(channels.max()!) - Int(channels.min()!)
      #expect(spread > 120)
    }
  }

  @Test func extremeIndicesStillGiveColours() {
    _ = Palette.color(forClass: Int.min)
    _ = Palette.color(forClass: Int.max)
    _ = Palette.seriesColor(-1)
    let series = (0..<12).map { Palette.seriesColor($0) }
    #expect(Set(series).count == 12)
  }

  @Test func readableTextContrastsWithTheBox() {
    #expect(Palette.readableText(on: RGB(r: 255, g: 230, b: 0)) == .black)
    #expect(Palette.readableText(on: .white) == .black)
    #expect(Palette.readableText(on: RGB(r: 20, g: 30, b: 140)) == .white)
    #expect(Palette.readableText(on: .black) == .white)
  }
}
