import Foundation

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A minimal element tree built with Foundation's SAX parser: enough for VOC annotation files.
final class XMLElement {
  let name: String
  var text = ""
  var children: [XMLElement] = []

  init(name: String) {
    self.name = name
  }

  func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }
  func children(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }
  var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

  /// Parses a document, throwing with the parser's line and column on malformed XML.
  static func parse(_ data: Data, file: String) throws -> XMLElement {
    try checkEncoding(data, file: file)
    try checkMarkup(data, file: file)
    let parser = XMLParser(data: data)
    let builder = TreeBuilder()
    parser.delegate = builder
    let parsed = parser.parse()
    if parsed, let open = builder.stack.last {
      // Foundation's parser on Linux accepts a document that ends inside an element.
      throw DatasetFormatError(file: file, location: "end of file", message: "malformed XML: <\(open.name)> is not closed")
    }
    if !parsed || builder.root == nil {
      let detail = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "no root element"
      throw DatasetFormatError(
        file: file, location: "line \(parser.lineNumber), column \(parser.columnNumber)", message: "malformed XML: \(detail)")
    }
    return builder.root!
  }

  /// Foundation's parser on Linux traps on an element or attribute name that is not UTF-8, which
  /// libxml2 passes on unconverted when it reads the bytes as UTF-8 (its default) or as a
  /// declared encoding they do not fit (found by fuzzing). So only UTF-8 documents reach it, and
  /// ISO-8859-1 ones that say so, which libxml2 converts to UTF-8 itself.
  private static func checkEncoding(_ data: Data, file: String) throws {
    if declaresLatin1(data) { return }
    var bytes = data.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0
    while true {
      switch parser.parseScalar(from: &bytes) {
      case .valid(let scalar): offset += scalar.count
      case .emptyInput: return
      case .error:
        throw DatasetFormatError(
          file: file, location: "byte \(offset)",
          message: "not UTF-8 text (nor ISO-8859-1 declared in <?xml ... encoding=...?>); save the annotation as UTF-8")
      }
    }
  }

  /// Foundation's parser on Linux also reads a null pointer, and crashes, for a processing
  /// instruction without data (`<?x?>`) and for some declarations of a DTD (`<!ATTLIST>` with an
  /// implied default, `<!NOTATION>`): fuzzing found the first, the others were tried beside
  /// it. VOC annotations use neither, so both are refused: `<?` anywhere but the XML
  /// declaration at the start, and `<!DOCTYPE`.
  private static func checkMarkup(_ data: Data, file: String) throws {
    let bytes = [UInt8](data)
    let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    func spells(_ word: String, at offset: Int) -> Bool {
      bytes[offset...].prefix(word.utf8.count).map { $0 & 0xDF } == word.utf8.map { $0 & 0xDF }
    }
    for offset in bytes.indices where bytes[offset] == UInt8(ascii: "<") && offset + 1 < bytes.count {
      let isDeclaration =
        offset == start && spells("<?xml", at: offset) && offset + 5 < bytes.count
        && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset + 5])
      if bytes[offset + 1] == UInt8(ascii: "?"), !isDeclaration {
        throw DatasetFormatError(
          file: file, location: "byte \(offset)", message: "processing instructions (<?...?>) are not supported in annotations")
      }
      if spells("<!DOCTYPE", at: offset) {
        throw DatasetFormatError(
          file: file, location: "byte \(offset)", message: "document type declarations (<!DOCTYPE ...>) are not supported in annotations")
      }
    }
  }

  private static func declaresLatin1(_ data: Data) -> Bool {
    let head = String(decoding: data.prefix(256), as: UTF8.self)
    guard head.hasPrefix("<?xml"), let end = head.range(of: "?>") else { return false }
    let declaration = head[..<end.lowerBound].lowercased().replacingOccurrences(of: " ", with: "")
    // Only the first `encoding=` counts, as for libxml2: a second one must not slip past the check.
    guard let key = declaration.range(of: "encoding="), let quote = declaration[key.upperBound...].first,
      quote == "\"" || quote == "'"
    else { return false }
    let name = declaration[key.upperBound...].dropFirst().prefix { $0 != quote }
    return name == "iso-8859-1" || name == "latin1"
  }

  private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLElement?
    var stack: [XMLElement] = []

    func parser(
      _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
      attributes: [String: String] = [:]
    ) {
      let element = XMLElement(name: elementName)
      if let parent = stack.last { parent.children.append(element) } else { root = element }
      stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
      stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
      stack.last?.text += string
    }
  }
}
