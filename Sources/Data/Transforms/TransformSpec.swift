/// A transform as a configuration declares it: a one-key mapping from the transform's name to its
/// settings, e.g. in YAML
///
/// ```yaml
/// transforms:
///   - resize_shortest_edge: {sizes: [640, 672, 704, 736, 768, 800], max_size: 1333}
///   - random_horizontal_flip: {probability: 0.5}
///   - photometric_jitter: {brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.02}
/// ```
///
/// Unknown transform names and unknown settings are errors that name the key, never ignored.
public enum TransformSpec: Sendable, Equatable, Codable {
  case resizeShortestEdge(ResizeShortestEdge)
  case randomHorizontalFlip(RandomHorizontalFlip)
  case randomCrop(RandomCrop)
  case photometricJitter(PhotometricJitter)

  public var transform: any Transform {
    switch self {
    case .resizeShortestEdge(let t): t
    case .randomHorizontalFlip(let t): t
    case .randomCrop(let t): t
    case .photometricJitter(let t): t
    }
  }

  private static let names = ["resize_shortest_edge", "random_horizontal_flip", "random_crop", "photometric_jitter"]

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    guard container.allKeys.count == 1, let key = container.allKeys.first else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "a transform is a mapping with one key, one of \(Self.names.joined(separator: ", "))"))
    }
    switch key.stringValue {
    case "resize_shortest_edge": self = .resizeShortestEdge(try container.decode(ResizeShortestEdge.self, forKey: key))
    case "random_horizontal_flip": self = .randomHorizontalFlip(try container.decode(RandomHorizontalFlip.self, forKey: key))
    case "random_crop": self = .randomCrop(try container.decode(RandomCrop.self, forKey: key))
    case "photometric_jitter": self = .photometricJitter(try container.decode(PhotometricJitter.self, forKey: key))
    default:
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath + [key], debugDescription: "unknown transform '\(key.stringValue)' (known: \(Self.names.joined(separator: ", ")))"))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: AnyKey.self)
    switch self {
    case .resizeShortestEdge(let t): try container.encode(t, forKey: AnyKey("resize_shortest_edge"))
    case .randomHorizontalFlip(let t): try container.encode(t, forKey: AnyKey("random_horizontal_flip"))
    case .randomCrop(let t): try container.encode(t, forKey: AnyKey("random_crop"))
    case .photometricJitter(let t): try container.encode(t, forKey: AnyKey("photometric_jitter"))
    }
  }
}

struct AnyKey: CodingKey {
  let stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

/// Decoding that rejects keys a type does not know, so that a typo in a config is an error.
extension KeyedDecodingContainer where K: CaseIterable & RawRepresentable, K.RawValue == String {
  func rejectUnknownKeys(_ decoder: any Decoder) throws {
    let known = Set(K.allCases.map(\.rawValue))
    let all = try decoder.container(keyedBy: AnyKey.self).allKeys
    if let unknown = all.first(where: { !known.contains($0.stringValue) }) {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath + [unknown], debugDescription: "unknown key '\(unknown.stringValue)' (known: \(known.sorted().joined(separator: ", ")))"))
    }
  }
}

extension ResizeShortestEdge {
  enum CodingKeys: String, CodingKey, CaseIterable {
    case sizes, maxSize = "max_size", sampling
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    let sizes = try c.decode([Int].self, forKey: .sizes)
    let sampling = try c.decodeIfPresent(Sampling.self, forKey: .sampling) ?? .choice
    guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }), sampling == .choice || sizes.count == 2 else {
      throw DecodingError.dataCorruptedError(forKey: .sizes, in: c, debugDescription: "positive sizes; exactly two for sampling: range")
    }
    self.init(sizes: sizes, maxSize: try c.decodeIfPresent(Int.self, forKey: .maxSize) ?? 1333, sampling: sampling)
  }
}

extension RandomHorizontalFlip {
  enum CodingKeys: String, CodingKey, CaseIterable {
    case probability
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    self.init(probability: try c.decodeFraction(.probability, default: 0.5))
  }
}

extension RandomCrop {
  enum CodingKeys: String, CodingKey, CaseIterable {
    case relativeSize = "relative_size", probability, minimumBoxFraction = "minimum_box_fraction"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    let range = try c.decodeIfPresent([Double].self, forKey: .relativeSize) ?? [0.6, 1]
    guard range.count == 2, range[0] > 0, range[0] <= range[1], range[1] <= 1 else {
      throw DecodingError.dataCorruptedError(forKey: .relativeSize, in: c, debugDescription: "expected [low, high] within (0, 1]")
    }
    self.init(
      relativeSize: range[0]...range[1], probability: try c.decodeFraction(.probability, default: 1),
      minimumBoxFraction: try c.decodeFraction(.minimumBoxFraction, default: 0.25))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode([relativeSize.lowerBound, relativeSize.upperBound], forKey: .relativeSize)
    try c.encode(probability, forKey: .probability)
    try c.encode(minimumBoxFraction, forKey: .minimumBoxFraction)
  }
}

extension PhotometricJitter {
  enum CodingKeys: String, CodingKey, CaseIterable {
    case brightness, contrast, saturation, hue
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try c.rejectUnknownKeys(decoder)
    let values = try CodingKeys.allCases.map { try c.decodeIfPresent(Double.self, forKey: $0) }
    guard values.allSatisfy({ ($0 ?? 0) >= 0 }), (values[3] ?? 0) <= 0.5 else {
      throw DecodingError.dataCorruptedError(forKey: .hue, in: c, debugDescription: "amounts must be >= 0 and hue <= 0.5")
    }
    self.init(brightness: values[0] ?? 0.2, contrast: values[1] ?? 0.2, saturation: values[2] ?? 0.2, hue: values[3] ?? 0.02)
  }
}

extension KeyedDecodingContainer {
  /// The number in [0, 1] at `key` (a probability, a fraction), or `fallback` when absent.
  fileprivate func decodeFraction(_ key: Key, default fallback: Double) throws -> Double {
    let value = try decodeIfPresent(Double.self, forKey: key) ?? fallback
    guard (0...1).contains(value) else {
      throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected a number between 0 and 1")
    }
    return value
  }
}
