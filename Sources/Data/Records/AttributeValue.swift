/// A value a format carries that SimpleDet's records have no field for (DeepLesion's pixel
/// spacing and lesion type, DOTA's ground sample distance): kept on records and instances as
/// named attributes and written to COCO files as an `attributes` object, so that nothing the
/// source said is lost in conversion. Training ignores them.
public enum AttributeValue: Sendable, Hashable {
  case number(Double)
  case numbers([Double])
  case string(String)
  case bool(Bool)

  /// The value as `JSONSerialization` writes it.
  var json: Any {
    switch self {
    case .number(let value): value
    case .numbers(let values): values
    case .string(let value): value
    case .bool(let value): value
    }
  }
}

/// Named attributes of a record or an instance.
public typealias Attributes = [String: AttributeValue]
