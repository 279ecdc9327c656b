import CYaml  // Yams' copy of libyaml (see `nestingDepth`)
import Foundation
import Yams

/// A config as plain data, between YAML text and the Codable structs: merging, overriding and
/// checking keys happen on this form, where every key is visible.
indirect enum ConfigTree: Equatable, Sendable {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case sequence([ConfigTree])
  case mapping([String: ConfigTree])

  var mapping: [String: ConfigTree]? {
    if case .mapping(let m) = self { return m }
    return nil
  }
}

extension ConfigTree: Codable {
  init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let i = try? c.decode(Int.self) {
      self = .int(i)
    } else if let d = try? c.decode(Double.self) {
      self = .double(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([ConfigTree].self) {
      self = .sequence(a)
    } else {
      self = .mapping(try c.decode([String: ConfigTree].self))
    }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .int(let i): try c.encode(i)
    case .double(let d): try c.encode(d)
    case .string(let s): try c.encode(s)
    case .sequence(let a): try c.encode(a)
    case .mapping(let m): try c.encode(m)
    }
  }
}

// MARK: - YAML

extension ConfigTree {
  /// Deeper than any config needs, shallow enough for a small thread stack.
  static let maximumDepth = 64
  /// Values once aliases are expanded; a config has a few hundred.
  static let maximumValueCount = 100_000

  /// Parses YAML text; an empty document is an empty mapping.
  static func parse(yaml: String) throws -> ConfigTree {
    // Yams composes nodes recursively, several stack frames a level, so a document nested a few
    // thousand deep overflowed the stack (8,000 `[` did in the FuzzConfig harness). libyaml's
    // own parser keeps its state on the heap: its events measure the depth before Yams sees it.
    let depth = nestingDepth(yaml: yaml, stoppingAfter: maximumDepth)
    guard depth <= maximumDepth else {
      throw ConfigError.invalidYAML("collections nested more than \(maximumDepth) deep")
    }
    guard let node = try Yams.compose(yaml: yaml) else { return .mapping([:]) }
    var budget = maximumValueCount
    return try ConfigTree(node, depth: 0, budget: &budget)
  }

  /// The deepest nesting of sequences and mappings, counted up to `limit + 1`; a syntax error
  /// ends the count there, which is as deep as Yams gets before reporting the same error.
  private static func nestingDepth(yaml: String, stoppingAfter limit: Int) -> Int {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { return 0 }
    defer { yaml_parser_delete(&parser) }
    var bytes = Array(yaml.utf8)
    return bytes.withUnsafeMutableBufferPointer { buffer in
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
      var depth = 0
      var deepest = 0
      var event = yaml_event_t()
      while deepest <= limit, yaml_parser_parse(&parser, &event) == 1 {
        let type = event.type
        yaml_event_delete(&event)
        switch type {
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
          depth += 1
          deepest = max(deepest, depth)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT: depth -= 1
        case YAML_STREAM_END_EVENT: return deepest
        default: break
        }
      }
      return deepest
    }
  }

  /// Counts every value into `budget`, aliases each time they are used: a few lines of anchors
  /// repeating anchors expand to billions of values (511 bytes hung the FuzzConfig harness).
  /// Aliases inside aliases also nest deeper than the text does, hence the depth check here too.
  init(_ node: Node, depth: Int, budget: inout Int) throws {
    guard depth <= Self.maximumDepth else {
      throw ConfigError.invalidYAML("collections nested more than \(Self.maximumDepth) deep once aliases are expanded")
    }
    budget -= 1
    guard budget >= 0 else {
      throw ConfigError.invalidYAML(
        "more than \(Self.maximumValueCount) values once aliases are expanded (anchors repeating anchors?)")
    }
    switch node {
    case .scalar(let scalar):
      self = ConfigTree(scalar: scalar)
    case .sequence(let sequence):
      var items: [ConfigTree] = []
      for item in sequence { items.append(try ConfigTree(item, depth: depth + 1, budget: &budget)) }
      self = .sequence(items)
    case .mapping(let mapping):
      var result: [String: ConfigTree] = [:]
      for (key, value) in mapping {
        guard case .scalar(let k) = key else { throw ConfigError.invalidYAML("a mapping key is not a plain value") }
        result[k.string] = try ConfigTree(value, depth: depth + 1, budget: &budget)
      }
      self = .mapping(result)
    }
  }

  init(scalar: Node.Scalar) {
    let s = scalar.string
    let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
    if quoted {
      self = .string(s)
      return
    }
    switch Resolver.default.resolveTag(of: Node.scalar(Node.Scalar(s))) {
    case .null: self = .null
    case .bool: self = Bool.construct(from: scalar).map(ConfigTree.bool) ?? .string(s)
    case .int: self = Int.construct(from: scalar).map(ConfigTree.int) ?? .string(s)
    case .float: self = Double.construct(from: scalar).map(ConfigTree.double) ?? .string(s)
    default:
      // YAML 1.1 reads `1e-3` (no dot) as a string; a number is what anyone writing it means.
      if let d = Double(s), s.contains(where: { $0 == "e" || $0 == "E" }) {
        self = .double(d)
      } else {
        self = .string(s)
      }
    }
  }

  var node: Node {
    switch self {
    case .null: return Node("null", Tag(.null), .plain)
    case .bool(let b): return Node(b ? "true" : "false", Tag(.bool), .plain)
    case .int(let i): return Node(String(i), Tag(.int), .plain)
    case .double(let d):
      var text = String(d)
      // Keep a dot so every YAML reader takes it for a float (`1e-05` would read as a string).
      if !text.contains(".") && !text.contains("n") {
        if let e = text.firstIndex(where: { $0 == "e" }) {
          text.insert(contentsOf: ".0", at: e)
        } else {
          text += ".0"
        }
      }
      return Node(text, Tag(.float), .plain)
    case .string(let s):
      let plain = ConfigTree(scalar: Node.Scalar(s))
      return Node(s, Tag(.str), plain == .string(s) && !s.isEmpty ? .plain : .doubleQuoted)
    case .sequence(let a):
      let flow = a.allSatisfy { if case .mapping = $0 { false } else { true } }
      return Node(a.map(\.node), Tag(.seq), flow ? .flow : .block)
    case .mapping(let m):
      let pairs = m.keys.sorted().map { (Node($0), m[$0]!.node) }
      return .mapping(Node.Mapping(pairs, Tag(.map), .block))
    }
  }

  /// The tree as YAML text with sorted keys.
  func yaml() throws -> String {
    try Yams.serialize(node: node)
  }
}

// MARK: - Codable bridge

extension ConfigTree {
  /// The encoded form of `value` (keys as its `CodingKeys` spell them).
  static func encoding<T: Encodable>(_ value: T) throws -> ConfigTree {
    let data = try JSONEncoder().encode(value)
    return try JSONDecoder().decode(ConfigTree.self, from: data)
  }

  func decoded<T: Decodable>(as type: T.Type) throws -> T {
    try JSONDecoder().decode(type, from: JSONEncoder().encode(self))
  }
}

extension ConfigTree {
  /// The value at a dotted key path; numbers index sequences.
  func value(at path: String) -> ConfigTree? {
    var node = self
    for key in path.split(separator: ".").map(String.init) {
      switch node {
      case .mapping(let m): guard let next = m[key] else { return nil }; node = next
      case .sequence(let a): guard let i = Int(key), a.indices.contains(i) else { return nil }; node = a[i]
      default: return nil
      }
    }
    return node
  }

  /// A short description for error messages.
  var summary: String {
    switch self {
    case .null: "null"
    case .bool(let b): "\(b)"
    case .int(let i): "the integer \(i)"
    case .double(let d): "the number \(d)"
    case .string(let s): "the string '\(s)'"
    case .sequence: "a list"
    case .mapping: "a mapping"
    }
  }
}
