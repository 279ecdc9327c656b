/// An opaque 8-bit colour. Pictures here are RGB only: they are written as PNG for people to
/// look at, so there is nothing for an alpha channel to do.
public struct RGB: Sendable, Equatable, Hashable {
  public var r: UInt8
  public var g: UInt8
  public var b: UInt8

  public init(r: UInt8, g: UInt8, b: UInt8) {
    self.r = r
    self.g = g
    self.b = b
  }

  public static let black = RGB(r: 0, g: 0, b: 0)
  public static let white = RGB(r: 255, g: 255, b: 255)
}
