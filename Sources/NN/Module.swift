import Torch

/// A trainable tensor owned by a module. Parameters are what optimizers update and what
/// `stateDict()` saves under the module's path.
///
///     final class Scale: Module {
///       @Parameter var factor: Tensor
///       init() { _factor = Parameter(Tensor.ones([1])) }
///     }
@propertyWrapper
public struct Parameter<Value: TensorSlot> {
  public var wrappedValue: Value
  /// The name in state dicts when it is not the property name in snake_case.
  public let key: String?

  public init(wrappedValue: Value, key: String? = nil) {
    self.wrappedValue = wrappedValue
    self.key = key
    wrappedValue.tensor?.requiresGrad = true
  }

  public init(_ value: Value, key: String? = nil) {
    self.init(wrappedValue: value, key: key)
  }
}

/// State that is saved with a module but not trained: BatchNorm's running statistics, say.
@propertyWrapper
public struct Buffer<Value: TensorSlot> {
  public var wrappedValue: Value
  public let key: String?
  /// Non-persistent buffers are left out of state dicts (as PyTorch's `persistent=False`).
  public let persistent: Bool

  public init(wrappedValue: Value, key: String? = nil, persistent: Bool = true) {
    self.wrappedValue = wrappedValue
    self.key = key
    self.persistent = persistent
  }

  public init(_ value: Value, key: String? = nil, persistent: Bool = true) {
    self.init(wrappedValue: value, key: key, persistent: persistent)
  }
}

/// `Tensor` or `Tensor?`: what `@Parameter` and `@Buffer` may hold.
public protocol TensorSlot {
  var tensor: Tensor? { get }
}

extension Tensor: TensorSlot { public var tensor: Tensor? { self } }
extension Optional: TensorSlot where Wrapped == Tensor { public var tensor: Tensor? { self } }

/// Type-erased views of the wrappers, so the reflective walk can read them.
protocol ParameterStorage {
  var storedTensor: Tensor? { get }
  var storedKey: String? { get }
}
protocol BufferStorage: ParameterStorage {
  var isPersistent: Bool { get }
}
extension Parameter: ParameterStorage {
  var storedTensor: Tensor? { wrappedValue.tensor }
  var storedKey: String? { key }
}
extension Buffer: BufferStorage {
  var storedTensor: Tensor? { wrappedValue.tensor }
  var storedKey: String? { key }
  var isPersistent: Bool { persistent }
}

/// A building block of a network: it owns parameters, buffers and child modules, each reachable
/// by a dotted path (`layer1.0.conv1.weight`) that matches torchvision's state-dict keys.
///
/// Subclasses declare parameters with `@Parameter`, buffers with `@Buffer`, and children as
/// stored properties (a module, an optional module, or an array of modules, whose elements are
/// named `0`, `1`, ...). Swift property names are turned into snake_case keys
/// (`runningMean` → `running_mean`); override `key(forProperty:)` for other names.
open class Module {
  /// Whether the module is in training mode (dropout active, batch statistics used).
  public private(set) var isTraining = true

  public init() {}

  /// The state-dict key for a Swift property name.
  open func key(forProperty name: String) -> String {
    Module.snakeCase(name)
  }

  /// Direct children with their keys, in declaration order.
  open var namedChildren: [(String, Module)] {
    var children: [(String, Module)] = []
    forEachProperty { label, value in
      if let module = value as? Module {
        children.append((key(forProperty: label), module))
      } else if let modules = value as? [Module] {
        for (i, module) in modules.enumerated() { children.append(("\(key(forProperty: label)).\(i)", module)) }
      }
    }
    return children
  }

  /// This module's own parameters (not its children's), in declaration order.
  open var localParameters: [(String, Tensor)] {
    var result: [(String, Tensor)] = []
    forEachProperty { label, value in
      if let storage = value as? ParameterStorage, !(value is BufferStorage), let tensor = storage.storedTensor {
        result.append((storage.storedKey ?? key(forProperty: Module.wrapperName(label)), tensor))
      }
    }
    return result
  }

  /// This module's own buffers, with whether each is saved in state dicts.
  open var localBuffers: [(String, Tensor, persistent: Bool)] {
    var result: [(String, Tensor, persistent: Bool)] = []
    forEachProperty { label, value in
      if let storage = value as? BufferStorage, let tensor = storage.storedTensor {
        result.append((storage.storedKey ?? key(forProperty: Module.wrapperName(label)), tensor, storage.isPersistent))
      }
    }
    return result
  }

  // MARK: Walking the tree

  /// Every module in the tree with its dotted path (this module's path is "").
  public func namedModules(prefix: String = "") -> [(String, Module)] {
    var result: [(String, Module)] = [(prefix, self)]
    for (name, child) in namedChildren {
      result += child.namedModules(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
    }
    return result
  }

  /// Every parameter in the tree with its dotted path. A tensor reachable twice is listed once.
  public func namedParameters() -> [(String, Tensor)] {
    var seen = Set<ObjectIdentifier>()
    var result: [(String, Tensor)] = []
    for (path, module) in namedModules() {
      for (name, tensor) in module.localParameters where seen.insert(ObjectIdentifier(tensor)).inserted {
        result.append((Module.join(path, name), tensor))
      }
    }
    return result
  }

  /// Every parameter in the tree.
  public func parameters() -> [Tensor] { namedParameters().map(\.1) }

  /// The parameters that `backward()` will give gradients to.
  public func trainableParameters() -> [Tensor] { parameters().filter(\.requiresGrad) }

  /// Every buffer in the tree with its dotted path, persistent or not.
  public func namedBuffers() -> [(String, Tensor)] {
    namedModules().flatMap { path, module in module.localBuffers.map { (Module.join(path, $0.0), $0.1) } }
  }

  /// The module's parameters and persistent buffers by dotted name: what checkpoints store.
  public func stateDict() -> [String: Tensor] {
    var state: [String: Tensor] = [:]
    for (path, module) in namedModules() {
      for (name, tensor) in module.localParameters { state[Module.join(path, name)] = tensor }
      for (name, tensor, persistent) in module.localBuffers where persistent {
        state[Module.join(path, name)] = tensor
      }
    }
    return state
  }

  /// Copies `state` into the module's parameters and buffers (without recording gradients).
  ///
  /// With `strict`, every key of the module must be present and no other key may be: all
  /// missing and unexpected keys are reported together. Shapes must always match.
  /// `num_batches_tracked` entries are accepted and ignored when the module has no such buffer,
  /// and may be absent when it has (the buffer keeps its value), as PyTorch's batch norms load.
  /// So are fake quantizers' entries (`fake_quantizer.*`): a float checkpoint loads into a
  /// quantized model (whose ranges stay unobserved) and a quantized one into a float model.
  /// - Returns: the keys that were missing and unexpected (both empty under `strict`).
  @discardableResult
  public func load(stateDict state: [String: Tensor], strict: Bool = true) throws -> LoadReport {
    let own = stateDict()
    let optional = { (key: String) in key.hasSuffix("num_batches_tracked") || key.contains("fake_quantizer.") }
    let missing = own.keys.filter { state[$0] == nil && !optional($0) }.sorted()
    let unexpected = state.keys.filter { own[$0] == nil && !optional($0) }.sorted()
    var mismatched: [String] = []
    for (key, target) in own {
      if let source = state[key], source.shape != target.shape {
        mismatched.append("\(key): checkpoint \(source.shape) vs model \(target.shape)")
      }
    }
    if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
      throw StateDictError(missing: strict ? missing : [], unexpected: strict ? unexpected : [], mismatched: mismatched.sorted())
    }
    withNoGrad {
      for (key, target) in own {
        if let source = state[key] { target.copy(from: source) }
      }
    }
    return LoadReport(missing: missing, unexpected: unexpected)
  }

  // MARK: Modes and conversion

  /// Switches the whole tree to training (`true`) or evaluation mode.
  open func train(_ mode: Bool = true) {
    for (_, module) in namedModules() { module.isTraining = mode }
  }

  /// Switches the whole tree to evaluation mode.
  public func eval() { train(false) }

  /// Moves parameters and buffers to `device` in place, keeping their identities.
  public func move(to device: Device) {
    for tensor in parameters() + namedBuffers().map(\.1) where tensor.device != device {
      withNoGrad { tensor.replaceData(with: tensor.to(device)) }
    }
  }

  /// Converts floating-point parameters and buffers to `dtype` in place, keeping their identities.
  public func convert(to dtype: DType) {
    precondition(dtype.isFloatingPoint, "Module.convert(to:) takes a floating-point dtype, got \(dtype)")
    for tensor in parameters() + namedBuffers().map(\.1) where tensor.dtype.isFloatingPoint && tensor.dtype != dtype {
      withNoGrad { tensor.replaceData(with: tensor.to(dtype)) }
    }
  }

  /// Turns gradient recording on or off for every parameter (freezing a backbone stage, say).
  public func setRequiresGrad(_ flag: Bool) {
    for p in parameters() { p.requiresGrad = flag }
  }

  // MARK: Helpers

  private func forEachProperty(_ body: (String, Any) -> Void) {
    var mirror: Mirror? = Mirror(reflecting: self)
    var levels: [Mirror] = []
    while let m = mirror {
      levels.append(m)
      mirror = m.superclassMirror
    }
    // Superclass properties first, so a subclass's additions follow its parent's.
    for level in levels.reversed() {
      for child in level.children {
        guard let label = child.label else { continue }
        body(label, child.value)
      }
    }
  }

  static func wrapperName(_ label: String) -> String {
    label.hasPrefix("_") ? String(label.dropFirst()) : label
  }

  static func join(_ path: String, _ name: String) -> String {
    path.isEmpty ? name : "\(path).\(name)"
  }

  /// `runningMean` → `running_mean`, `bboxPred` → `bbox_pred`, `layer1` → `layer1`.
  public static func snakeCase(_ name: String) -> String {
    var out = ""
    for ch in name {
      if ch.isUppercase {
        if !out.isEmpty { out.append("_") }
        out += ch.lowercased()
      } else {
        out.append(ch)
      }
    }
    return out
  }
}

/// What `load(stateDict:strict:)` left out when not strict.
public struct LoadReport: Equatable, Sendable {
  public let missing: [String]
  public let unexpected: [String]
}

/// A state dict that does not fit the module, with every problem listed.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
  public let missing: [String]
  public let unexpected: [String]
  public let mismatched: [String]

  public var description: String {
    var parts: [String] = []
    if !missing.isEmpty { parts.append("\(missing.count) missing keys: \(Self.listed(missing, separator: ", "))") }
    if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected keys: \(Self.listed(unexpected, separator: ", "))") }
    if !mismatched.isEmpty { parts.append("\(mismatched.count) shape mismatches: \(Self.listed(mismatched, separator: "; "))") }
    return "state dict does not match the model: " + parts.joined(separator: "; ")
  }

  /// The first few items, so that weights for another architecture give a readable line.
  private static func listed(_ items: [String], separator: String) -> String {
    let shown = 6
    let head = items.prefix(shown).joined(separator: separator)
    return items.count > shown ? head + separator + "… (\(items.count - shown) more)" : head
  }
}

/// A module that maps one tensor to one tensor, so it can sit in a `Sequential`.
public protocol UnaryLayer: Module {
  func callAsFunction(_ x: Tensor) -> Tensor
}
