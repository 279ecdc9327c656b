import Foundation
import Yams

/// A file's keys after its `_base_` files were merged in, with the file each key came from.
struct Layer {
  var tree: ConfigTree
  /// Key path (`model.rpn.nms_threshold`) → the file or `--set` argument that set it.
  var sources: [String: String]

  func source(of path: String) -> String {
    var p = path
    while true {
      if let s = sources[p] { return s }
      guard let dot = p.lastIndex(of: ".") else { return sources[""] ?? "config" }
      p = String(p[..<dot])
    }
  }
}

/// Reads config files: `_base_` inheritance, `--set` overrides, key checks against the defaults.
struct ConfigLoader {
  /// The parts: mappings that hold one of several kinds of settings (`{kind: fpn, ...}`), by key
  /// path, with each kind's defaults (snake_case keys); "" names the defaults of an optional part
  /// without kinds. Switching the kind starts from that kind's defaults rather than merging into
  /// the previous kind's keys, and a part set over a null starts from its defaults, so its keys
  /// are checked as any others.
  let variants: [String: [String: ConfigTree]]

  // MARK: Files and _base_

  func load(file path: String, chain: [String] = [], includedFrom: String? = nil) throws -> Layer {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    if chain.contains(url.path) {
      throw ConfigError.inheritanceCycle(chain.map(display) + [display(url.path)])
    }
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw ConfigError.missingFile(path: path, includedFrom: includedFrom)
    }
    let text: String
    do {
      text = try String(contentsOf: url, encoding: .utf8)
    } catch {
      throw ConfigError.unreadableFile(path: path, reason: "cannot read: \(error.localizedDescription)")
    }
    var tree: ConfigTree
    do {
      tree = try ConfigTree.parse(yaml: text)
    } catch let error as ConfigError {
      throw ConfigError.unreadableFile(path: path, reason: error.description)
    } catch {
      throw ConfigError.unreadableFile(path: path, reason: "invalid YAML: \(error)".replacingOccurrences(of: "\n", with: " "))
    }
    guard case .mapping(var own) = tree else {
      throw ConfigError.unreadableFile(path: path, reason: "a config file must be a mapping of keys")
    }
    let bases: [String]
    switch own.removeValue(forKey: "_base_") {
    case nil, .null?: bases = []
    case .string(let s)?: bases = [s]
    case .sequence(let items)?:
      bases = try items.map {
        guard case .string(let s) = $0 else { throw ConfigError.invalidBase(file: path) }
        return s
      }
    default: throw ConfigError.invalidBase(file: path)
    }
    tree = .mapping(own)
    var merged = Layer(tree: .mapping([:]), sources: [:])
    let folder = url.deletingLastPathComponent()
    for base in bases {
      // Relative to the including file, so a config works from any working directory.
      let baseURL = base.hasPrefix("/") ? URL(fileURLWithPath: base) : folder.appendingPathComponent(base)
      let layer = try load(file: display(baseURL.standardizedFileURL.path), chain: chain + [url.path], includedFrom: path)
      merged = try overlay(merged, with: layer, strict: false)
    }
    return try overlay(merged, with: Layer(tree: tree, sources: ["": path]), strict: false)
  }

  private func display(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
  }

  // MARK: --set

  /// `key.path=value` as a one-key layer; the value is YAML (`0.01`, `[[16], [32]]`, `BN`).
  func override(_ text: String) throws -> Layer {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw ConfigError.invalidOverride(text) }
    let keys = text[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard !keys.contains(where: \.isEmpty) else { throw ConfigError.invalidOverride(text) }
    let valueText = String(text[text.index(after: eq)...])
    var value: ConfigTree
    do {
      value = valueText.isEmpty ? .string("") : try ConfigTree.parse(yaml: valueText)
    } catch {
      throw ConfigError.invalidValue(path: keys.joined(separator: "."), source: "--set \(text)", reason: "not a YAML value")
    }
    for key in keys.reversed() { value = .mapping([key: value]) }
    return Layer(tree: value, sources: ["": "--set \(text)"])
  }

  // MARK: Merging

  /// `top` over `base`: mappings merge key by key, anything else replaces. With `strict`,
  /// `base` is the defaults and a key it lacks is an error naming the key and its source.
  func overlay(_ base: Layer, with top: Layer, strict: Bool) throws -> Layer {
    var sources = base.sources
    let tree = try merge(base.tree, top.tree, path: "", top: top, sources: &sources, strict: strict)
    return Layer(tree: tree, sources: sources)
  }

  private func merge(
    _ base: ConfigTree, _ top: ConfigTree, path: String, top layer: Layer, sources: inout [String: String], strict: Bool
  ) throws -> ConfigTree {
    var base = base
    if case .mapping(let t) = top, base.mapping == nil, let kinds = variants[path] {
      let kind = if case .string(let k)? = t["kind"] { k } else { "" }
      if let fresh = kinds[kind] { base = fresh }
    }
    guard case .mapping(var b) = base, case .mapping(let t) = top else {
      record(top, at: path, from: layer, into: &sources)
      return top
    }
    // A kind lacking some of the keys set so far starts from its own defaults; one that has
    // them all (Mask R-CNN after Faster R-CNN, TridentNet after a ResNet) keeps their values and
    // takes its own defaults for the keys it adds.
    if let kinds = variants[path], case .string(let kind)? = t["kind"], b["kind"] != .string(kind),
      case .mapping(let fresh)? = kinds[kind]
    {
      if Set(b.keys).isSubset(of: fresh.keys) {
        b.merge(fresh) { set, _ in set }
      } else {
        b = fresh
        for key in sources.keys where key.hasPrefix(path + ".") { sources[key] = nil }
      }
    }
    for (key, value) in t {
      let child = path.isEmpty ? key : "\(path).\(key)"
      if let existing = b[key] {
        b[key] = try merge(existing, value, path: child, top: layer, sources: &sources, strict: strict)
      } else if strict {
        throw ConfigError.unknownKey(path: child, source: layer.source(of: child))
      } else {
        record(value, at: child, from: layer, into: &sources)
        b[key] = value
      }
    }
    return .mapping(b)
  }

  private func record(_ value: ConfigTree, at path: String, from layer: Layer, into sources: inout [String: String]) {
    for key in sources.keys where key.hasPrefix(path + ".") { sources[key] = nil }
    sources[path] = layer.source(of: path)
    if case .mapping(let m) = value {
      for (key, child) in m { record(child, at: path.isEmpty ? key : "\(path).\(key)", from: layer, into: &sources) }
    }
  }
}
