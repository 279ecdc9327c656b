/// A pickle reader that can only build data, never run code.
///
/// Python's own unpickler imports and calls whatever a file names, so loading an untrusted
/// checkpoint with it can run anything. This one executes a fixed subset of opcodes (those
/// `torch.save` emits for state dicts and training checkpoints) and resolves a global only when
/// its qualified name is in `allowedGlobals`; every other opcode or global is refused with an
/// error that names it. It imports nothing and calls nothing: `REDUCE` and `BINPERSID` are
/// handed to the caller's `reduce` and `persistentLoad`, which know the few allowed callables.
struct Unpickler {
  /// Qualified names (`module.name`) that `GLOBAL` and `STACK_GLOBAL` may produce.
  let allowedGlobals: Set<String>
  /// Builds the object for a persistent id (torch uses them for tensor storages).
  let persistentLoad: (PickleValue) throws -> PickleValue
  /// Applies an allowed global to its arguments.
  ///
  /// The two callbacks report bad input by throwing `CheckpointError`s with an empty `source`,
  /// which the unpickler completes with the file and the pickle position; errors that already
  /// name their file (a damaged storage entry, say) pass through unchanged.
  let reduce: (_ global: String, _ arguments: [PickleValue]) throws -> PickleValue
  /// The file, for error messages.
  let source: String
  /// The pickle inside the file (such as "archive/data.pkl"), for error messages.
  let context: String

  /// Deeper values are refused; Python's own recursion limit makes deeper pickles unusual.
  static let maximumDepth = 100

  /// How many opcodes the last `load` ran; a bound on the work a walk over its value needs.
  private(set) var opcodeCount = 0
  /// How many bytes the last `load` read, up to and including its STOP (pickles can follow).
  private(set) var consumed = 0

  mutating func load(_ bytes: UnsafeRawBufferPointer) throws -> PickleValue {
    var reader = ByteReader(bytes, source: source, context: context)
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    opcodeCount = 0

    func error(_ kind: CheckpointError.Kind, _ message: String, at position: Int) -> CheckpointError {
      CheckpointError(kind, source: source, "\(context) at byte \(position): \(message)")
    }

    while true {
      let position = reader.offset
      let opcode = try reader.readByte("opcode")
      opcodeCount += 1

      func pop() throws -> PickleValue {
        guard let top = stack.popLast(), stack.count >= (marks.last ?? 0) else {
          throw error(.malformed, "\(Self.name(of: opcode)) needs a value but the stack is empty", at: position)
        }
        return top
      }
      func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else {
          throw error(.malformed, "\(Self.name(of: opcode)) without a MARK", at: position)
        }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
      }
      func top() throws -> PickleValue {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else {
          throw error(.malformed, "\(Self.name(of: opcode)) needs a value but the stack is empty", at: position)
        }
        return top
      }
      func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= Self.maximumDepth else {
          throw error(.malformed, "values nest deeper than \(Self.maximumDepth) levels", at: position)
        }
        items.forEach { $0.seal() }
        return .tuple(items, depth: depth)
      }
      /// Checks that `container` may still change and may hold `value`, then records the depth.
      func admit(_ value: PickleValue, into container: PickleContainer) throws {
        guard !container.isSealed else {
          throw error(
            .malformed, "\(Self.name(of: opcode)) changes a container already stored in another (recursive structures are not supported)",
            at: position)
        }
        let isSelf: Bool
        switch value {
        case .list(let list): isSelf = list === container
        case .dict(let dict): isSelf = dict === container
        default: isSelf = false
        }
        guard !isSelf else { throw error(.malformed, "a container may not contain itself", at: position) }
        container.depth = max(container.depth, value.depth + 1)
        guard container.depth <= Self.maximumDepth else {
          throw error(.malformed, "values nest deeper than \(Self.maximumDepth) levels", at: position)
        }
        value.seal()
      }
      func append(_ values: [PickleValue], to target: PickleValue) throws {
        guard case .list(let list) = target else {
          throw error(.malformed, "\(Self.name(of: opcode)) on a \(target.typeName), not a list", at: position)
        }
        for value in values { try admit(value, into: list) }
        list.items.append(contentsOf: values)
      }
      func setItems(_ pairs: [PickleValue], in target: PickleValue) throws {
        guard case .dict(let dict) = target else {
          throw error(.malformed, "\(Self.name(of: opcode)) on a \(target.typeName), not a dict", at: position)
        }
        guard pairs.count % 2 == 0 else {
          throw error(.malformed, "\(Self.name(of: opcode)) with an odd number of keys and values", at: position)
        }
        for i in stride(from: 0, to: pairs.count, by: 2) {
          try admit(pairs[i], into: dict)
          try admit(pairs[i + 1], into: dict)
          dict.set(pairs[i + 1], for: pairs[i])
        }
      }
      func text(_ count: Int, _ what: String) throws -> String {
        guard let string = decodeUTF8Strictly(try reader.readBytes(count, what)) else {
          throw error(.malformed, "\(what) is not valid UTF-8", at: position)
        }
        return string
      }
      func binary(_ count: Int) throws -> [UInt8] { Array(try reader.readBytes(count, "bytes")) }
      func line(_ what: String) throws -> String {
        let start = reader.offset
        while try reader.readByte(what) != 0x0A {}
        guard let string = decodeUTF8Strictly(UnsafeRawBufferPointer(rebasing: bytes[start..<(reader.offset - 1)]))
        else { throw error(.malformed, "\(what) is not valid UTF-8", at: position) }
        return string
      }
      func global(module: String, name: String) throws -> PickleValue {
        let qualified = "\(module).\(name)"
        guard allowedGlobals.contains(qualified) else {
          throw error(
            .forbidden,
            "refusing global '\(qualified)': the restricted unpickler only builds tensors and containers, never calls other code",
            at: position)
        }
        return .global(qualified)
      }
      func memoIndex(_ value: Int) throws -> Int {
        guard memo[value] != nil else {
          throw error(.malformed, "\(Self.name(of: opcode)) of memo slot \(value), which was never stored", at: position)
        }
        return value
      }
      func signedInteger(byteCount: Int) throws -> PickleValue {
        guard byteCount <= 8 else {
          throw error(.unsupported, "integer of \(byteCount) bytes is too large for Int", at: position)
        }
        let raw = try reader.readBytes(byteCount, "integer")
        var value: UInt64 = 0
        for (i, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        if byteCount > 0, byteCount < 8, raw[byteCount - 1] & 0x80 != 0 {
          value |= ~0 << (8 * UInt64(byteCount))  // sign-extend
        }
        return .int(Int(Int64(bitPattern: value)))
      }

      var pushed: PickleValue?
      switch opcode {
      case 0x80:  // PROTO
        let version = try reader.readByte("protocol version")
        guard version <= 5 else { throw error(.unsupported, "pickle protocol \(version)", at: position) }
      case 0x95:  // FRAME: a length prefix for buffering; the opcodes follow inline.
        _ = try reader.read(UInt64.self, "frame length")
      case 0x2E:  // STOP
        let value = try pop()
        guard stack.isEmpty, marks.isEmpty else {
          throw error(.malformed, "STOP leaves \(stack.count) values and \(marks.count) marks behind", at: position)
        }
        consumed = reader.offset
        return value

      case 0x28: marks.append(stack.count)  // MARK
      case 0x30: _ = try pop()  // POP
      case 0x31: _ = try popToMark()  // POP_MARK
      case 0x32: pushed = try top()  // DUP

      case 0x4E: pushed = .null  // NONE
      case 0x88: pushed = .bool(true)  // NEWTRUE
      case 0x89: pushed = .bool(false)  // NEWFALSE
      case 0x4B: pushed = .int(Int(try reader.readByte("BININT1 value")))  // BININT1
      case 0x4D: pushed = .int(Int(try reader.read(UInt16.self, "BININT2 value")))  // BININT2
      case 0x4A: pushed = .int(Int(try reader.read(Int32.self, "BININT value")))  // BININT
      case 0x8A: pushed = try signedInteger(byteCount: Int(try reader.readByte("LONG1 length")))  // LONG1
      case 0x8B:  // LONG4
        let count = Int(try reader.read(Int32.self, "LONG4 length"))
        guard count >= 0 else { throw error(.malformed, "LONG4 with negative length \(count)", at: position) }
        pushed = try signedInteger(byteCount: count)
      case 0x47:  // BINFLOAT: big-endian IEEE double
        let bits = try reader.read(UInt64.self, "BINFLOAT value").byteSwapped
        pushed = .float(Double(bitPattern: bits))

      case 0x58: pushed = .string(try text(try reader.readLength(UInt32.self, "BINUNICODE length"), "string"))
      case 0x8C: pushed = .string(try text(Int(try reader.readByte("SHORT_BINUNICODE length")), "string"))
      case 0x8D: pushed = .string(try text(try reader.readLength(UInt64.self, "BINUNICODE8 length"), "string"))
      case 0x43: pushed = .bytes(try binary(Int(try reader.readByte("SHORT_BINBYTES length"))))
      case 0x42: pushed = .bytes(try binary(try reader.readLength(UInt32.self, "BINBYTES length")))
      case 0x8E: pushed = .bytes(try binary(try reader.readLength(UInt64.self, "BINBYTES8 length")))

      case 0x29: pushed = try tuple([])  // EMPTY_TUPLE
      case 0x74: pushed = try tuple(try popToMark())  // TUPLE
      case 0x85: pushed = try tuple([try pop()])  // TUPLE1
      case 0x86:  // TUPLE2
        let b = try pop()
        let a = try pop()
        pushed = try tuple([a, b])
      case 0x87:  // TUPLE3
        let c = try pop()
        let b = try pop()
        let a = try pop()
        pushed = try tuple([a, b, c])
      case 0x5D: pushed = .list(PickleList())  // EMPTY_LIST
      case 0x6C:  // LIST
        let list = PickleValue.list(PickleList())
        try append(try popToMark(), to: list)
        pushed = list
      case 0x7D: pushed = .dict(PickleDict())  // EMPTY_DICT
      case 0x64:  // DICT
        let dict = PickleValue.dict(PickleDict())
        try setItems(try popToMark(), in: dict)
        pushed = dict
      case 0x61:  // APPEND
        let value = try pop()
        try append([value], to: try top())
      case 0x65:  // APPENDS
        let values = try popToMark()
        try append(values, to: try top())
      case 0x73:  // SETITEM
        let value = try pop()
        let key = try pop()
        try setItems([key, value], in: try top())
      case 0x75:  // SETITEMS
        let pairs = try popToMark()
        try setItems(pairs, in: try top())

      case 0x71: memo[Int(try reader.readByte("BINPUT index"))] = try top()  // BINPUT
      case 0x72: memo[try reader.readLength(UInt32.self, "LONG_BINPUT index")] = try top()  // LONG_BINPUT
      case 0x94: memo[memo.count] = try top()  // MEMOIZE
      case 0x68: pushed = memo[try memoIndex(Int(try reader.readByte("BINGET index")))]!  // BINGET
      case 0x6A: pushed = memo[try memoIndex(try reader.readLength(UInt32.self, "LONG_BINGET index"))]!  // LONG_BINGET

      case 0x63:  // GLOBAL
        let module = try line("GLOBAL module")
        let name = try line("GLOBAL name")
        pushed = try global(module: module, name: name)
      case 0x93:  // STACK_GLOBAL
        let name = try pop()
        let module = try pop()
        guard let module = module.string, let name = name.string else {
          throw error(.malformed, "STACK_GLOBAL needs two strings", at: position)
        }
        pushed = try global(module: module, name: name)
      case 0x52:  // REDUCE
        let arguments = try pop()
        let callable = try pop()
        guard case .global(let name) = callable, case .tuple(let items, _) = arguments else {
          throw error(
            .malformed, "REDUCE needs a global and an argument tuple, not \(callable.typeName) and \(arguments.typeName)",
            at: position)
        }
        do {
          pushed = try reduce(name, items)
        } catch let failure as CheckpointError where failure.source.isEmpty {
          throw error(failure.kind, failure.message, at: position)
        }
      case 0x51:  // BINPERSID
        let id = try pop()
        do {
          pushed = try persistentLoad(id)
        } catch let failure as CheckpointError where failure.source.isEmpty {
          throw error(failure.kind, failure.message, at: position)
        }
      case 0x62:  // BUILD
        _ = try pop()
        let target = try top()
        // State dicts are OrderedDicts whose BUILD sets the `_metadata` attribute (module
        // versions); the tensors do not depend on it, so the state is dropped.
        guard case .dict = target else {
          throw error(.forbidden, "BUILD on a \(target.typeName) is not allowed; only dict attributes are", at: position)
        }

      default:
        throw error(
          .forbidden,
          "pickle opcode \(Self.name(of: opcode)) is not allowed: the restricted unpickler reads only tensors and plain containers",
          at: position)
      }
      if let pushed { stack.append(pushed) }
    }
  }

  /// The opcode's name from Python's `pickletools`, for error messages.
  static func name(of opcode: UInt8) -> String {
    let names: [UInt8: String] = [
      0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
      0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
      0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
      0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
      0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
      0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
      0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO",
      0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
      0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
      0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS",
      0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
      0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]
    let hex = "0x" + String(opcode, radix: 16, uppercase: true)
    return names[opcode].map { "\($0) (\(hex))" } ?? "\(hex)"
  }
}
