/// Swift property names in YAML's snake_case: `roiHeads` → `roi_heads`,
/// `preNMSTopNTrain` → `pre_nms_top_n_train`, `foregroundIoU` → `foreground_iou`.
/// Going back is not a string function (`nms` could be `NMS` or `Nms`): the loader looks each
/// key up among the encoded defaults instead.
func snakeCased(_ name: String) -> String {
  let chars = Array(name.replacingOccurrences(of: "IoU", with: "Iou"))
  var out = ""
  for (i, c) in chars.enumerated() {
    if c.isUppercase && i > 0 {
      let previous = chars[i - 1]
      let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
      if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out += "_" }
    }
    out += c.lowercased()
  }
  return out
}

extension ConfigTree {
  /// This tree with every mapping key in snake_case.
  var snakeCased: ConfigTree {
    switch self {
    case .mapping(let m):
      return .mapping(Dictionary(uniqueKeysWithValues: m.map { (Config.snakeCased($0.key), $0.value.snakeCased) }))
    case .sequence(let a):
      return .sequence(a.map(\.snakeCased))
    default:
      return self
    }
  }

  /// This snake_case tree with its keys spelled as in `reference`, the encoded defaults; under a
  /// part's key path (`variants`), as in the defaults of the part's kind. A key absent there stays
  /// as it is.
  func camelCased(like reference: ConfigTree, variants: [String: [String: ConfigTree]], path: String = "") -> ConfigTree {
    guard case .mapping(let m) = self else { return self }
    var reference = reference
    if let kinds = variants[path] {
      let kind = if case .string(let k)? = m["kind"] { k } else { "" }
      reference = kinds[kind] ?? reference
    }
    let known = reference.mapping ?? [:]
    var names: [String: String] = [:]
    for key in known.keys { names[Config.snakeCased(key)] = key }
    var out: [String: ConfigTree] = [:]
    for (key, value) in m {
      let name = names[key] ?? key
      out[name] = value.camelCased(like: known[name] ?? .null, variants: variants, path: path.isEmpty ? key : "\(path).\(key)")
    }
    return .mapping(out)
  }
}
