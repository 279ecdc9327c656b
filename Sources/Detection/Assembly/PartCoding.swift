/// How configs spell a part: one mapping holding a `kind` and that kind's own settings
/// (`{kind: fpn, channels: 256, ...}`), readable in YAML where the synthesised form of an enum
/// with associated values (`{fpn: {_0: {...}}}`) is not.
private struct KindKey: CodingKey {
  var stringValue: String { "kind" }
  var intValue: Int? { nil }
  init() {}
  init?(stringValue: String) { guard stringValue == "kind" else { return nil } }
  init?(intValue: Int) { nil }
}

extension Decoder {
  /// The `kind` of the part being decoded, one of `Kind`'s cases; an unknown name is an error
  /// listing the known ones.
  func partKind<Kind: RawRepresentable & CaseIterable>(_: Kind.Type, family: String) throws -> Kind
  where Kind.RawValue == String {
    let container = try container(keyedBy: KindKey.self)
    let name = try container.decode(String.self, forKey: KindKey())
    guard let kind = Kind(rawValue: name) else {
      let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
      throw DecodingError.dataCorruptedError(
        forKey: KindKey(), in: container, debugDescription: "unknown \(family) kind '\(name)' (known: \(known))")
    }
    return kind
  }
}

extension Encoder {
  /// Writes a part: its `kind` beside its settings' keys.
  func encodePart<Kind: RawRepresentable>(kind: Kind, settings: (any Encodable)?) throws where Kind.RawValue == String {
    try settings?.encode(to: self)
    var container = container(keyedBy: KindKey.self)
    try container.encode(kind.rawValue, forKey: KindKey())
  }
}
