/// A Python value rebuilt by the restricted unpickler.
///
/// Only the kinds a checkpoint holds exist here. Lists and dicts are classes because pickles
/// fill them after creating them (`EMPTY_DICT`, then `SETITEMS`), possibly through the memo.
/// Whatever the caller builds from a `REDUCE` (tensors, storages) travels as `.object`.
enum PickleValue {
  /// Python's `None`.
  case null
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case tuple([PickleValue], depth: Int)
  case list(PickleList)
  case dict(PickleDict)
  /// A callable the allow-list admitted, by its qualified name (such as `collections.OrderedDict`).
  case global(String)
  case object(AnyObject)

  /// How many containers deep the value goes; bounded so that neither building nor freeing a
  /// hostile pickle's value can recurse deep enough to overflow the stack.
  var depth: Int {
    switch self {
    case .tuple(_, let depth): depth
    case .list(let list): list.depth
    case .dict(let dict): dict.depth
    default: 0
    }
  }

  /// The Python type name, for error messages.
  var typeName: String {
    switch self {
    case .null: "None"
    case .bool: "bool"
    case .int: "int"
    case .float: "float"
    case .string: "str"
    case .bytes: "bytes"
    case .tuple: "tuple"
    case .list: "list"
    case .dict: "dict"
    case .global(let name): "global \(name)"
    case .object(let object): object is Tensor ? "Tensor" : String(describing: type(of: object))
    }
  }

  var string: String? { if case .string(let s) = self { s } else { nil } }
  var int: Int? { if case .int(let i) = self { i } else { nil } }
  var tensor: Tensor? { if case .object(let o) = self { o as? Tensor } else { nil } }
  var dict: PickleDict? { if case .dict(let d) = self { d } else { nil } }

  /// The elements of a tuple or list.
  var elements: [PickleValue]? {
    switch self {
    case .tuple(let items, _): items
    case .list(let list): list.items
    default: nil
    }
  }

  /// Marks a list or dict as stored inside another value (see `PickleContainer.isSealed`).
  func seal() {
    switch self {
    case .list(let list): list.isSealed = true
    case .dict(let dict): dict.isSealed = true
    default: break
    }
  }

  /// The hashable identity Python would use for a dict key, when it has a simple one.
  var key: PickleKey? {
    switch self {
    case .string(let s): .string(s)
    case .int(let i): .int(i)
    case .bool(let b): .int(b ? 1 : 0)  // Python: True == 1 as a key
    case .null: .null
    default: nil
    }
  }
}

enum PickleKey: Hashable {
  case string(String)
  case int(Int)
  case null
}

/// State shared by the two mutable Python containers.
///
/// Once a container is stored inside another it is sealed: changing it afterwards would let a
/// pickle build cycles (which leak and make flattening loop) and deepen values behind the depth
/// check. Python's pickler fills every container before storing it, except in self-referencing
/// structures, which no checkpoint needs.
class PickleContainer {
  var depth = 1
  var isSealed = false
}

final class PickleList: PickleContainer {
  var items: [PickleValue] = []
}

final class PickleDict: PickleContainer {
  private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
  private var indexByKey: [PickleKey: Int] = [:]

  /// Stores `value` under `key`, replacing an equal key's value as Python does.
  func set(_ value: PickleValue, for key: PickleValue) {
    if let simple = key.key {
      if let index = indexByKey[simple] {
        entries[index].value = value
        return
      }
      indexByKey[simple] = entries.count
    }
    entries.append((key, value))
  }

  subscript(key: String) -> PickleValue? {
    indexByKey[.string(key)].map { entries[$0].value }
  }
}
