import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Replaces the file at `url` with `data` so that, even if the process or the machine dies
/// midway, the file holds either its old contents or all of `data`, never a torn mix.
///
/// A training run that is killed while saving must not destroy the last good checkpoint, so the
/// bytes go to a temporary file in the same directory (a rename is only atomic within one file
/// system), which is flushed to disk before it is renamed over the target; the directory is then
/// flushed so that the rename itself survives a power loss. A new file gets mode 0644; a replaced
/// one keeps its mode.
public func writeAtomically(_ data: Data, to url: URL) throws {
  let target = url.standardizedFileURL.path
  let directory = url.standardizedFileURL.deletingLastPathComponent().path
  let name = url.lastPathComponent
  func failure(_ what: String, code: Int32 = errno) -> CheckpointError {
    CheckpointError(.io, source: target, "\(what): \(String(cString: strerror(code)))")
  }

  var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
  let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
  guard fd >= 0 else { throw failure("cannot create a temporary file in \(directory)") }
  let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  var descriptor: Int32? = fd
  var renamed = false
  defer {
    if let descriptor { close(descriptor) }
    if !renamed { unlink(temporary) }
  }

  var existing = stat()
  let mode: mode_t = stat(target, &existing) == 0 ? existing.st_mode & 0o7777 : 0o644
  guard fchmod(fd, mode) == 0 else { throw failure("cannot set the mode of \(temporary)") }

  try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
    var written = 0
    while written < raw.count {
      let n = write(fd, raw.baseAddress! + written, raw.count - written)
      if n < 0 {
        if errno == EINTR { continue }
        throw failure("cannot write \(temporary)")
      }
      written += n
    }
  }
  guard fsync(fd) == 0 else { throw failure("cannot flush \(temporary) to disk") }
  descriptor = nil
  guard close(fd) == 0 else { throw failure("cannot close \(temporary)") }
  guard rename(temporary, target) == 0 else { throw failure("cannot rename \(temporary) over the target") }
  renamed = true

  let directoryFD = open(directory, O_RDONLY)
  guard directoryFD >= 0 else { throw failure("cannot open \(directory) to flush the rename") }
  defer { close(directoryFD) }
  // Some file systems cannot fsync a directory at all (EINVAL); the rename is then as durable as
  // that file system makes it, which is not an error of ours.
  if fsync(directoryFD) != 0 && errno != EINVAL {
    throw failure("cannot flush \(directory) to disk")
  }
}
