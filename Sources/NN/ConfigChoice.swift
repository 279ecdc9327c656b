/// A setting that is one of a few names (`BN`, `max_pool`, `giou`): decoding an unknown name is
/// an error listing the known ones, where the synthesised conformance only says that the value
/// is invalid.
public protocol ConfigChoice: RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension ConfigChoice {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let name = try container.decode(String.self)
    guard let value = Self(rawValue: name) else {
      let known = Self.allCases.map(\.rawValue).joined(separator: ", ")
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(name)' is not one of \(known)")
    }
    self = value
  }
}
