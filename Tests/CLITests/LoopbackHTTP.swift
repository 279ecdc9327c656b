import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A bare HTTP/1.1 client over a loopback socket: it sends exactly the bytes a test gives, so
/// that malformed requests reach the server as written, and reads the answer to the end.
struct LoopbackHTTP {
  struct Answer {
    var status: Int
    var headers: [String: String]
    var body: Data

    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  let port: Int

  /// Sends `method path` with `body`, closing the connection after the answer.
  func request(_ method: String, _ path: String, body: Data = Data(), headers: [String: String] = [:]) throws -> Answer {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
    head += "\r\n"
    return try parse(send(Data(head.utf8) + body))
  }

  /// Sends raw bytes and returns whatever the server answers before closing.
  func send(_ bytes: Data, timeout: Int = 60) throws -> Data {
    let connection = try Connection(port: port, timeout: timeout)
    connection.send(bytes)
    return connection.receiveAll()
  }

  /// Parses what a server answered on a connection.
  func answer(_ data: Data) throws -> Answer { try parse(data) }

  /// One open socket, for requests sent in pieces.
  final class Connection {
    private let socket: Int32

    init(port: Int, timeout: Int = 60) throws {
      socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      guard socket >= 0 else { throw Failure(description: "socket() failed") }
      var time = timeval(tv_sec: timeout, tv_usec: 0)
      setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(port).bigEndian)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      guard connected == 0 else {
        close(socket)
        throw Failure(description: "cannot connect to 127.0.0.1:\(port)")
      }
    }

    deinit { close(socket) }

    func send(_ bytes: Data) {
      bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
          let sent = Glibc.send(socket, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
          // A server may answer (413) and close before reading the whole body; what it sent counts.
          if sent <= 0 { return }
          offset += sent
        }
      }
    }

    /// Everything the server sends until it closes the connection (or the timeout passes).
    func receiveAll() -> Data {
      var received = Data()
      var buffer = [UInt8](repeating: 0, count: 65536)
      while true {
        let count = recv(socket, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received.append(contentsOf: buffer[0..<count])
      }
      return received
    }
  }

  private func parse(_ data: Data) throws -> Answer {
    guard let split = data.range(of: Data("\r\n\r\n".utf8)) else {
      throw Failure(description: "no HTTP answer (\(data.count) bytes)")
    }
    let lines = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
    let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? -1
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return Answer(status: status, headers: headers, body: Data(data[split.upperBound...]))
  }
}

/// A `simpledet serve` process started by a test, stopped (SIGTERM) when released.
final class ServerProcess {
  let process: Process
  let port: Int
  private let output: Pipe
  private let errors: Pipe

  /// Starts `simpledet serve` with `arguments` on a free loopback port and waits until it listens.
  init(_ arguments: [String], in folder: URL) throws {
    let (process, output, errors) = try CommandLineRunner.start(["serve", "--port", "0"] + arguments, in: folder)
    self.process = process
    self.output = output
    self.errors = errors
    let line = Self.firstLine(of: output, timeout: 120)
    guard let line, let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
      let port = Int(line[range].split(separator: ":")[1])
    else {
      process.terminate()
      let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      throw LoopbackHTTP.Failure(description: "the server did not report its port: \(line ?? "nothing") \(stderr)")
    }
    self.port = port
  }

  var client: LoopbackHTTP { LoopbackHTTP(port: port) }

  /// Sends SIGTERM and waits for the exit; returns the status and what it printed.
  func stop() -> (status: Int32, output: String, errors: String) {
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  private static func firstLine(of pipe: Pipe, timeout: Double) -> String? {
    let result = LockedLine()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      var data = Data()
      while !data.contains(UInt8(ascii: "\n")) {
        let chunk = pipe.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        data.append(chunk)
      }
      result.set(String(decoding: data, as: UTF8.self))
      done.signal()
    }
    guard done.wait(timeout: .now() + timeout) == .success else { return nil }
    return result.get()
  }
}

private final class LockedLine: @unchecked Sendable {
  private let lock = NSLock()
  private var line: String?
  func set(_ value: String) { lock.withLock { line = value } }
  func get() -> String? { lock.withLock { line } }
}
