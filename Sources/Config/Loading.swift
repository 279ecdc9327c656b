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

  /// Values of the right type that still make no sense, as (key path, reason).
  func firstProblem() -> (String, String)? {
    if model.classes < 2 { return ("model.classes", "needs at least 2 (background and one class)") }
    if ![18, 34, 50, 101, 152].contains(model.backbone.depth) {
      return ("model.backbone.depth", "must be 18, 34, 50, 101 or 152")
    }
    if model.backbone.baseChannels < 8 { return ("model.backbone.base_channels", "must be at least 8") }
    // Group norm splits channels into 32 groups.
    let groupNormChannels: Int? =
      switch model.kind {
      case .retinaNet: model.retinaNet.headNorm == .groupNorm ? model.retinaNet.fpnChannels : nil
      case .fcos: model.fcos.headNorm == .groupNorm ? model.fcos.fpnChannels : nil
      case .fasterRCNN, .maskRCNN: model.fasterRCNN.fpnNorm == .groupNorm ? model.fasterRCNN.fpnChannels : nil
      }
    if let channels = groupNormChannels, channels % 32 != 0 {
      return ("model.fpn_channels", "must be a multiple of 32 with group norm (GN uses 32 groups), got \(channels)")
    }
    let rpn = model.fasterRCNN.rpn
    if rpn.anchorSizes.count != rpn.aspectRatios.count {
      return ("model.rpn.anchor_sizes", "needs one list per feature level, as many as aspect_ratios (\(rpn.aspectRatios.count))")
    }
    if model.fasterRCNN.roiHeads.boxRegressionWeights.count != 4 {
      return ("model.roi_heads.box_regression_weights", "needs 4 values")
    }
    if solver.baseLearningRate <= 0 { return ("solver.base_lr", "must be positive") }
    if solver.maxIterations < 1 { return ("solver.max_iter", "must be at least 1") }
    if solver.batchSize < 1 { return ("solver.batch_size", "must be at least 1") }
    if let norm = solver.clipGradientNorm, norm <= 0 { return ("solver.clip_grad_norm", "must be positive or null") }
    if let epochs = solver.maxEpochs, epochs < 1 { return ("solver.max_epochs", "must be at least 1 or null") }
    if solver.maxNonfiniteSteps < 1 { return ("solver.max_nonfinite_steps", "must be at least 1") }
    for (name, split) in [("train", data.train), ("test", data.test)] {
      if data.kind == .shapes && split.imageCount < 1 { return ("data.\(name).image_count", "must be at least 1") }
      if data.kind != .shapes && split.annotations == nil {
        return ("data.\(name).annotations", "is required for \(data.kind.rawValue) data")
      }
    }
    if data.workers < 0 { return ("data.workers", "must be 0 or more") }
    if test.batchSize < 1 { return ("test.batch_size", "must be at least 1") }
    if let size = test.minSize, size < 32 { return ("test.min_size", "must be at least 32 or null") }
    if runtime.threads < 1 { return ("runtime.threads", "must be at least 1") }
    for (key, value) in [("log_period", runtime.logPeriod), ("checkpoint_period", runtime.checkpointPeriod), ("eval_period", runtime.evalPeriod)]
    where value < 0 {
      return ("runtime.\(key)", "must be 0 or more")
    }
    if runtime.logPeriod < 1 { return ("runtime.log_period", "must be at least 1") }
    if runtime.checkpointsKept < 1 { return ("runtime.checkpoints_kept", "must be at least 1") }
    return nil
  }
}
