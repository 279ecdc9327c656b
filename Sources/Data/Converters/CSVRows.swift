import Foundation

/// A comma-separated file as rows of fields, each with the line it starts on (1-based), for CSV
/// annotation files (DeepLesion's `DL_info.csv`). Fields in double quotes may hold commas, line
/// breaks and doubled quotes (RFC 4180); `\r\n` endings are accepted; blank lines are skipped.
struct CSVRows {
  struct Row {
    let line: Int
    let fields: [String]
  }

  let file: String
  let rows: [Row]

  init(contentsOf url: URL) throws {
    let data = try readAnnotationFile(url)
    guard let text = String(data: data, encoding: .utf8) else {
      throw DatasetFormatError(file: url.path, message: "not UTF-8 text")
    }
    try self.init(text: text, file: url.path)
  }

  /// Parses `text`; a quoted field that never ends is an error naming the line it starts on.
  init(text: String, file: String) throws {
    self.file = file
    var rows: [Row] = []
    var fields: [String] = []
    var field = ""
    var line = 1
    var rowLine = 1
    var quoted = false
    var quoteLine = 1
    var fieldWasQuoted = false
    var scalars = text.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = nil
    func endRow() {
      fields.append(field)
      if !(fields.count == 1 && fields[0].isEmpty && !fieldWasQuoted) { rows.append(Row(line: rowLine, fields: fields)) }
      fields = []
      field = ""
      fieldWasQuoted = false
    }
    while let scalar = pending ?? scalars.next() {
      pending = nil
      if quoted {
        if scalar == "\"" {
          let next = scalars.next()
          if next == "\"" {
            field.unicodeScalars.append("\"")
          } else {
            quoted = false
            pending = next
          }
        } else {
          if scalar == "\n" { line += 1 }
          field.unicodeScalars.append(scalar)
        }
        continue
      }
      switch scalar {
      case "\"" where field.isEmpty && !fieldWasQuoted:
        quoted = true
        fieldWasQuoted = true
        quoteLine = line
      case ",":
        fields.append(field)
        field = ""
        fieldWasQuoted = false
      case "\r":
        let next = scalars.next()
        if next != "\n" { pending = next }
        endRow()
        line += 1
        rowLine = line
      case "\n":
        endRow()
        line += 1
        rowLine = line
      default:
        field.unicodeScalars.append(scalar)
      }
    }
    if quoted { throw DatasetFormatError(file: file, location: "line \(quoteLine)", message: "a quoted field never ends") }
    if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRow() }
    self.rows = rows
  }
}
