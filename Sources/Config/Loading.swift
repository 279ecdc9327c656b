import Detection
import Foundation

extension SimpleDetConfig {
  /// Reads `file` with its `_base_` files over the defaults, then applies `overrides`
  /// (`key.path=value`, YAML values) in order. Every key must exist in the defaults; errors
  /// name the key path and the file or override it came from.
  public static func load(file: String? = nil, overrides: [String] = []) throws -> SimpleDetConfig {
    let defaults = try ConfigTree.encoding(SimpleDetConfig())
    let parts = try partDefaults()
    let loader = ConfigLoader(variants: parts.mapValues { $0.mapValues(\.snakeCased) })
    var layer = Layer(tree: defaults.snakeCased, sources: ["": "defaults"])
    if let file {
      layer = try loader.overlay(layer, with: try loader.load(file: file), strict: true)
    }
    for text in overrides {
      layer = try loader.overlay(layer, with: try loader.override(text), strict: true)
    }
    let config: SimpleDetConfig
    do {
      config = try layer.tree.camelCased(like: defaults, variants: parts).decoded(as: SimpleDetConfig.self)
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

  /// The defaults of each kind of each part, encoded (camelCase keys), by the part's key path;
  /// the key "" holds the defaults of an optional part that has no kinds.
  private static func partDefaults() throws -> [String: [String: ConfigTree]] {
    func table<Part: Encodable>(_ parts: [Part], kind: (Part) -> String) throws -> [String: ConfigTree] {
      Dictionary(uniqueKeysWithValues: try parts.map { (kind($0), try ConfigTree.encoding($0)) })
    }
    // mmcv's soft-NMS defaults; SimpleDet's weighted NMS votes above 0.8; ensemble-boxes fuses
    // above 0.55.
    let nmsMethods = try table([
      NMSMethod.standard(iouThreshold: 0.5), .soft(.linear(iouThreshold: 0.3), minScore: 0.001),
      .weighted(iouThreshold: 0.5, votingThreshold: 0.8), .wbf(iouThreshold: 0.55),
    ]) { $0.kind.rawValue }
    return [
      "model.backbone": try table([
        BackboneConfiguration.resnet(ResNet.Configuration()), .trident(TridentConfiguration()), .darknet(Darknet.Configuration()),
        .efficientNet(EfficientNetConfiguration()),
      ]) { $0.kind.rawValue },
      "model.neck": try table([
        NeckConfiguration.fpn(FPNConfiguration()), .none, .nasFPN(NASFPNConfiguration()), .yolov3(YOLOV3NeckConfiguration()),
        .biFPN(BiFPNConfiguration()),
      ]) {
        $0.kind.rawValue
      },
      "model.rpn": ["": try ConfigTree.encoding(RPNConfiguration())],
      "model.roi_heads": try table([RoIHeadsPart.standard(RoIHeadsConfiguration()), .cascade(CascadeRoIHeadsConfiguration())]) {
        $0.kind.rawValue
      },
      "model.roi_heads.box_head": try table([
        BoxHeadKind.twoMLP(representationSize: 1024),
        .convFC(convolutions: [256, 256, 256, 256], fullyConnected: [1024], norm: .batchNorm), .resNetStage,
      ]) { $0.kind.rawValue },
      "model.roi_heads.mask_head": ["": try ConfigTree.encoding(MaskHeadConfiguration())],
      "model.quantize": ["": try ConfigTree.encoding(QuantizationConfiguration())],
      "model.head": try table([
        DenseHeadConfiguration.retinaNet(RetinaNetHeadConfiguration()), .fcos(FCOSHeadConfiguration()), .yolov3(YOLOV3HeadConfiguration()),
      ]) {
        $0.kind.rawValue
      },
      "test.nms": nmsMethods,
      "test.augment": ["": try ConfigTree.encoding(TestAugmentation())],
      "test.augment.merge": nmsMethods,
      "distill": ["": try ConfigTree.encoding(DistillationConfiguration())],
      "distill.losses.features": ["": try ConfigTree.encoding(FeatureImitationConfiguration())],
      "distill.losses.logits": ["": try ConfigTree.encoding(LogitDistillationConfiguration())],
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
