/// A fixed-width 5×7 pixel font for printable ASCII, built into the source so that pictures look
/// the same on every machine and no font file has to be found at run time.
///
/// Each glyph is 5 pixels wide and 9 rows tall: 7 rows for capitals and digits, 2 more for the
/// descenders of `g j p q y`. Characters advance by 6 pixels and lines by 10, which leaves one
/// blank column and row between neighbours. Characters outside ASCII 32...126 draw as a box.
public enum BitmapFont {
  /// Width of a glyph's drawn pixels, before scaling.
  public static let glyphWidth = 5
  /// Height of a glyph's drawn pixels (descenders included), before scaling.
  public static let glyphHeight = 9
  /// Horizontal distance from one character to the next, before scaling.
  public static let advance = 6
  /// Vertical distance from one line to the next, before scaling.
  public static let lineHeight = 10

  /// The rows of `character`'s glyph, top to bottom; bit 4 of a row is its leftmost pixel.
  public static func rows(of character: Character) -> [UInt8] {
    guard let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1,
      (32...126).contains(scalar.value)
    else { return unknownGlyph }
    return glyphs[Int(scalar.value) - 32]
  }

  /// The size in pixels that `text` covers at `scale`: as many lines as `text` has (split at
  /// "\n"), as wide as the longest; the spacing after the last column and line is not counted.
  public static func size(of text: String, scale: Int = 1) -> (width: Int, height: Int) {
    let scale = clampedScale(scale)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let columns = lines.map(\.count).max() ?? 0
    if columns == 0 { return (0, 0) }
    let width = (columns * advance - (advance - glyphWidth)) * scale
    let height = (lines.count * lineHeight - (lineHeight - glyphHeight)) * scale
    return (width, height)
  }

  /// Scales below 1 draw at 1; very large ones are capped so that pixel arithmetic cannot
  /// overflow (a 64× glyph is already 576 pixels tall).
  static func clampedScale(_ scale: Int) -> Int { min(max(scale, 1), 64) }

  private static let unknownGlyph = parse("1F1111111111111F")

  /// Printable ASCII from space (32) to tilde (126), one glyph per entry, each a row mask per
  /// hex byte. Glyphs with 7 rows have empty descender rows.
  private static let glyphs: [[UInt8]] = [
    "00000000000000",  // space
    "04040404000004",  // !
    "0A0A0A00000000",  // "
    "0A0A1F0A1F0A0A",  // #
    "040F140E051E04",  // $
    "18190204081303",  // %
    "0C121408151209",  // &
    "04040800000000",  // '
    "02040808080402",  // (
    "08040202020408",  // )
    "0004150E150400",  // *
    "0004041F040400",  // +
    "0000000000060204",  // ,
    "0000001F000000",  // -
    "00000000000606",  // .
    "00010204081000",  // /
    "0E11131519110E",  // 0
    "040C040404040E",  // 1
    "0E11010204081F",  // 2
    "1F02040201110E",  // 3
    "02060A121F0202",  // 4
    "1F101E0101110E",  // 5
    "0608101E11110E",  // 6
    "1F010204080808",  // 7
    "0E11110E11110E",  // 8
    "0E11110F01020C",  // 9
    "000C0C000C0C00",  // :
    "000C0C000C0C0408",  // ;
    "02040810080402",  // <
    "00001F001F0000",  // =
    "08040201020408",  // >
    "0E110102040004",  // ?
    "0E11010D15150E",  // @
    "0E1111111F1111",  // A
    "1E11111E11111E",  // B
    "0E11101010110E",  // C
    "1C12111111121C",  // D
    "1F10101E10101F",  // E
    "1F10101E101010",  // F
    "0E11101711110F",  // G
    "1111111F111111",  // H
    "0E04040404040E",  // I
    "0702020202120C",  // J
    "11121418141211",  // K
    "1010101010101F",  // L
    "111B1515111111",  // M
    "11111915131111",  // N
    "0E11111111110E",  // O
    "1E11111E101010",  // P
    "0E111111151209",  // Q
    "1E11111E141211",  // R
    "0F10100E01011E",  // S
    "1F040404040404",  // T
    "1111111111110E",  // U
    "11111111110A04",  // V
    "1111111515150A",  // W
    "11110A040A1111",  // X
    "1111110A040404",  // Y
    "1F01020408101F",  // Z
    "0E08080808080E",  // [
    "00100804020100",  // backslash
    "0E02020202020E",  // ]
    "040A1100000000",  // ^
    "0000000000001F",  // _
    "08040200000000",  // `
    "00000E010F110F",  // a
    "1010161911111E",  // b
    "00000E1010110E",  // c
    "01010D1311110F",  // d
    "00000E111F100E",  // e
    "0609081C080808",  // f
    "00000F1111110F010E",  // g
    "10101619111111",  // h
    "04000C0404040E",  // i
    "02000602020202120C",  // j
    "10101214181412",  // k
    "0C04040404040E",  // l
    "00001A15151111",  // m
    "00001619111111",  // n
    "00000E1111110E",  // o
    "00001E1111111E1010",  // p
    "00000F1111110F0101",  // q
    "00001619101010",  // r
    "00000F100E011E",  // s
    "08081C08080906",  // t
    "0000111111130D",  // u
    "00001111110A04",  // v
    "0000111115150A",  // w
    "0000110A040A11",  // x
    "0000111111110F010E",  // y
    "00001F0204081F",  // z
    "02040408040402",  // {
    "04040404040404",  // |
    "08040402040408",  // }
    "0000000D120000",  // ~
  ].map(parse)

  /// Hex bytes to row masks, padded with empty rows to the full glyph height.
  private static func parse(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    var rows: [UInt8] = stride(from: 0, to: digits.count - 1, by: 2).map { index in
      UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) ?? 0
    }
    while rows.count < glyphHeight { rows.append(0) }
    return rows
  }
}
