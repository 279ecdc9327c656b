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
