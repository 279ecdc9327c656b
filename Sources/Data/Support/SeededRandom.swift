/// A small, fast, seedable random generator (SplitMix64). Every random choice in the data
/// pipeline draws from one of these, seeded from `(seed, epoch, index)`, so that an image gets
/// the same augmentation whichever worker thread handles it and whenever a run is resumed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) {
    state = seed
  }

  /// A generator for one item of a stream: the parts are mixed so that nearby seeds, epochs and
  /// indices give unrelated sequences.
  public init(seed: UInt64, _ parts: Int...) {
    var s = SeededRandom.mix(seed &+ 0x9E37_79B9_7F4A_7C15)
    for part in parts { s = SeededRandom.mix(s ^ UInt64(bitPattern: Int64(part)) &+ 0xD1B5_4A32_D192_ED03) }
    state = s
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return SeededRandom.mix(state)
  }

  /// A uniform value in `0 ..< 1`.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// A uniform value in `range`.
  public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    range.lowerBound + unit() * (range.upperBound - range.lowerBound)
  }

  /// `true` with probability `p`.
  public mutating func chance(_ p: Double) -> Bool { unit() < p }

  private static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
