import Detection
import Foundation

extension SimpleDetConfig {
  /// Reads `file` with its `_base_` files over the defaults, then applies `overrides`
  /// (`key.path=value`, YAML values) in order. Every key must exist in the defaults; errors
  /// name the key path and the file or override it came from.
  public static func load(file: String? = nil, overrides: [String] = []) throws -> SimpleDetConfig {
    let defaults = try ConfigTree.encoding(SimpleDetConfig())
    let loader = ConfigLoader(variants: try variants())
    var layer = Layer(tree: defaults.snakeCased, sources: ["": "defaults"])
    if let file {
      layer = try loader.overlay(layer, with: try loader.load(file: file), strict: true)
    }
    for text in overrides {
      layer = try loader.overlay(layer, with: try loader.override(text), strict: true)
    }
    // A model of another kind has its own keys: spell them as that kind's encoded defaults do.
    var reference = defaults
    if case .string(let kind)? = layer.tree.mapping?["model"]?.mapping?["kind"], let model = modelDefaults[kind],
      case .mapping(var root) = reference
    {
      root["model"] = model
      reference = .mapping(root)
    }
    let config: SimpleDetConfig
    do {
      config = try layer.tree.camelCased(like: reference).decoded(as: SimpleDetConfig.self)
    } catch let error as DecodingError {
      var (path, reason) = describe(error)
      if case .typeMismatch(let type, _) = error {
        reason = "expected \(typeName(type)), found \(layer.tree.value(at: path)?.summary ?? "something else")"
      }
      throw ConfigError.invalidValue(path: path, source: layer.source(of: path), reason: reason)
    }
    if let (path, reason) = config.firstProblem() {
      throw ConfigError.invalidValue(path: path, source: layer.source(of: path), reason: reason)
    }
    return config
  }

  /// The config as YAML, with every key (what a run writes as `config.yaml`).
  public func yaml() throws -> String {
    try ConfigTree.encoding(self).snakeCased.yaml()
  }

  /// Writes `yaml()` to `url`.
  public func write(to url: URL) throws {
    try Data(yaml().utf8).write(to: url)
  }

  /// Each model kind's defaults, encoded (camelCase keys).
  private static var modelDefaults: [String: ConfigTree] {
    var out: [String: ConfigTree] = [:]
    for kind in ModelSection.Kind.allCases {
      var section = ModelSection(kind: kind)
      section.kind = kind
      out[kind.rawValue] = try? ConfigTree.encoding(section)
    }
    return out
  }

  private static func variants() throws -> [String: [String: ConfigTree]] {
    [
      "model": modelDefaults.mapValues(\.snakeCased),
      "model.roi_heads.box_head": [
        "two_mlp": try ConfigTree.encoding(BoxHeadKind.twoMLP(representationSize: 1024)),
        "conv_fc": try ConfigTree.encoding(
          BoxHeadKind.convFC(convolutions: [256, 256, 256, 256], fullyConnected: [1024], norm: .batchNorm)),
      ]
    ]
  }

  private static func describe(_ error: DecodingError) -> (path: String, reason: String) {
    func dotted(_ keys: [any CodingKey]) -> String {
      keys.map { $0.intValue.map(String.init) ?? Config.snakeCased($0.stringValue) }.joined(separator: ".")
    }
    switch error {
    case .typeMismatch(let type, let context):
      return (dotted(context.codingPath), "expected \(typeName(type)): \(context.debugDescription)")
    case .valueNotFound(let type, let context):
      return (dotted(context.codingPath), "expected \(typeName(type)), found null")
    case .keyNotFound(let key, let context):
      return (dotted(context.codingPath + [key]), "missing")
    case .dataCorrupted(let context):
      return (dotted(context.codingPath), context.debugDescription)
    @unknown default:
      return ("", "\(error)")
    }
  }

  private static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is UInt64.Type: "an integer"
    case is Double.Type: "a number"
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    default:
      String(describing: type).hasPrefix("Dictionary") ? "a mapping"
        : String(describing: type).hasPrefix("Array") ? "a list" : "\(type)"
    }
  }
}
