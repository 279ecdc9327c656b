import Data
import Foundation

/// The image bytes a `POST /v1/detect` carries: the body itself (`Content-Type: image/jpeg`,
/// `image/png` or `application/octet-stream`), or the first JPEG or PNG part of a
/// `multipart/form-data` body, as browsers and `curl -F image=@photo.jpg` send.
enum ImageUpload {
  /// The image's bytes, or a `RequestError` saying in one line what is wrong with the body.
  static func imageBytes(body: Data, contentType: String?) throws(RequestError) -> Data {
    guard !body.isEmpty else { throw RequestError(.badRequest, "empty body: send the JPEG or PNG image as the body") }
    if let contentType, contentType.lowercased().hasPrefix("multipart/form-data") {
      guard let boundary = boundary(in: contentType) else {
        throw RequestError(.badRequest, "multipart/form-data without a boundary parameter")
      }
      return try firstImagePart(of: body, boundary: boundary)
    }
    return body
  }

  /// The `boundary` parameter of a Content-Type header (quoted or not).
  static func boundary(in contentType: String) -> String? {
    for parameter in contentType.split(separator: ";").dropFirst() {
      let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
      var value = pair[1]
      if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
      // RFC 2046 allows 1 to 70 characters.
      return (1...70).contains(value.utf8.count) ? value : nil
    }
    return nil
  }

  /// Splits the body at `--boundary` delimiters and returns the content of the first part whose
  /// bytes start like a JPEG or PNG file.
  static func firstImagePart(of body: Data, boundary: String) throws(RequestError) -> Data {
    let delimiter = Data("--\(boundary)".utf8)
    let headerEnd = Data("\r\n\r\n".utf8)
    var positions: [Int] = []
    var searchFrom = body.startIndex
    while let found = body.range(of: delimiter, in: searchFrom..<body.endIndex) {
      positions.append(found.lowerBound)
      searchFrom = found.upperBound
    }
    guard positions.count >= 2 else {
      throw RequestError(.badRequest, "multipart body without parts delimited by its boundary")
    }
    for (start, end) in zip(positions, positions.dropFirst()) {
      let partStart = start + delimiter.count
      guard let headers = body.range(of: headerEnd, in: partStart..<end) else { continue }
      var contentEnd = end
      // The CRLF before the next delimiter belongs to the delimiter.
      if contentEnd - 2 >= headers.upperBound, body[contentEnd - 2] == 0x0D, body[contentEnd - 1] == 0x0A { contentEnd -= 2 }
      let content = body.subdata(in: headers.upperBound..<contentEnd)
      if ImageFormat(sniffing: content) != nil { return content }
    }
    throw RequestError(.badRequest, "multipart body holds no JPEG or PNG part")
  }
}
