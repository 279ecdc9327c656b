import Foundation
import Hummingbird

/// A request the server refuses: the status to answer, a one-line message for the client, and a
/// short reason for the error counter of `/metrics`.
struct RequestError: Error, Sendable {
  let status: HTTPResponse.Status
  let message: String
  let reason: String
  var headers: HTTPFields = [:]

  init(_ status: HTTPResponse.Status, _ message: String, reason: String? = nil, headers: HTTPFields = [:]) {
    self.status = status
    self.message = message
    self.reason = reason ?? Self.defaultReason(status)
    self.headers = headers
  }

  private static func defaultReason(_ status: HTTPResponse.Status) -> String {
    switch status.code {
    case 400: "bad_request"
    case 401: "unauthorized"
    case 404: "not_found"
    case 405: "method_not_allowed"
    case 413: "too_large"
    case 503: "unavailable"
    default: "error_\(status.code)"
    }
  }
}
