import Dispatch
import Engine
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Starts this machine's worker processes of a distributed run and supervises them, as torchrun
/// does: each worker is this executable again with the worker's placement in its environment
/// (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`).
///
/// - Rank 0's output passes through; the other workers' standard output is dropped (they log
///   nothing) and their standard error reaches the terminal line by line as `[rank N] …`.
/// - When a worker fails, the others are asked to stop (SIGTERM), killed after `gracePeriod`,
///   and the launcher exits non-zero naming the rank and its last error line.
/// - SIGINT or SIGTERM to the launcher reaches every worker once (the workers run in their own
///   process group, so a terminal's Ctrl-C is not delivered twice): they agree to stop after
///   the step, rank 0 writes a checkpoint, and all exit.
final class WorkerLauncher {
  let placements: [WorkerPlacement]
  let arguments: [String]
  let gracePeriod: Double

  init(placements: [WorkerPlacement], arguments: [String], gracePeriod: Double = 30) {
    self.placements = placements
    self.arguments = arguments
    self.gracePeriod = gracePeriod
  }

  private final class Worker: @unchecked Sendable {
    let placement: WorkerPlacement
    let pid: pid_t
    let errorPipe: Int32
    var status: Int32?
    /// The last complete line the worker wrote to standard error (its error, when it fails).
    var lastLine = ""
    let lock = NSLock()

    init(placement: WorkerPlacement, pid: pid_t, errorPipe: Int32) {
      self.placement = placement
      self.pid = pid
      self.errorPipe = errorPipe
    }
  }

  /// Runs the workers to the end; the exit status the launcher should give.
  func run() throws -> Int32 {
    let executable = try Self.executablePath()
    var workers: [Worker] = []
    var group: pid_t = 0
    let output = DispatchGroup()
    for placement in placements {
      var environment = ProcessInfo.processInfo.environment
      for (key, value) in placement.environment { environment[key] = value }
      if isatty(STDERR_FILENO) == 1 { environment["SIMPLEDET_PROGRESS"] = "1" }
      let (pid, errorPipe) = try Self.spawn(
        executable, arguments: arguments, environment: environment, processGroup: group,
        keepsOutput: placement.localRank == 0)
      if group == 0 { group = pid }
      let worker = Worker(placement: placement, pid: pid, errorPipe: errorPipe)
      workers.append(worker)
      output.enter()
      Thread.detachNewThread {
        Self.relayErrors(of: worker)
        output.leave()
      }
    }
    let signals = forwardSignals(to: group)
    defer { for source in signals { source.cancel() } }

    var failures: [Worker] = []
    var deadline: Date?
    var killed = false
    // Workers that SIGTERM (ours) ended are no cause of the failure.
    func stoppedByUs(_ worker: Worker) -> Bool { deadline != nil && Self.signalNumber(worker.status!) == SIGTERM }
    while workers.contains(where: { $0.status == nil }) {
      var raw: Int32 = 0
      let pid = waitpid(-group, &raw, WNOHANG)
      if pid > 0, let worker = workers.first(where: { $0.pid == pid }) {
        worker.status = raw
        if !killed, !Self.succeeded(raw), !Self.interrupted(raw), !stoppedByUs(worker) {
          failures.append(worker)
          if deadline == nil {
            deadline = Date().addingTimeInterval(gracePeriod)
            kill(-group, SIGTERM)
          }
        }
        continue
      }
      if let deadline, Date() > deadline, !killed {
        killed = true
        kill(-group, SIGKILL)
      }
      usleep(50_000)
    }
    output.wait()
    // A worker that died of a signal is the cause; the others then failed in a collective.
    if let failure = failures.first(where: { Self.signalNumber($0.status!) != 0 }) ?? failures.first {
      var line = failure.lock.withLock { failure.lastLine }
      if line.hasPrefix("error: ") { line.removeFirst(7) }
      FileHandle.standardError.write(
        Data("error: rank \(failure.placement.rank) \(Self.describe(failure.status!))\(line.isEmpty ? "" : ": \(line)")\n".utf8))
      return 1
    }
    let statuses = workers.compactMap(\.status)
    if let interrupted = statuses.first(where: Self.interrupted) { return Self.exitCode(interrupted) }
    return 0
  }

  /// SIGINT and SIGTERM to the launcher go to every worker.
  private func forwardSignals(to group: pid_t) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { kill(-group, number) }
      source.resume()
      return source
    }
  }

  /// Copies a worker's standard error to the launcher's: rank 0's as it comes (its progress
  /// line included), the others' line by line behind their rank.
  private static func relayErrors(of worker: Worker) {
    let prefix = worker.placement.rank == 0 ? "" : "[rank \(worker.placement.rank)] "
    var pending = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = read(worker.errorPipe, &buffer, buffer.count)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      let chunk = buffer[0..<count]
      if prefix.isEmpty { FileHandle.standardError.write(Data(chunk)) }
      pending += chunk
      while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: pending[..<newline], as: UTF8.self)
        pending.removeSubrange(...newline)
        if !prefix.isEmpty { FileHandle.standardError.write(Data((prefix + line + "\n").utf8)) }
        let trimmed = line.split(separator: "\r").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        if !trimmed.isEmpty { worker.lock.withLock { worker.lastLine = trimmed } }
      }
    }
    if !pending.isEmpty, !prefix.isEmpty {
      FileHandle.standardError.write(Data((prefix + String(decoding: pending, as: UTF8.self) + "\n").utf8))
    }
    close(worker.errorPipe)
  }

  private static func spawn(
    _ executable: String, arguments: [String], environment: [String: String], processGroup: pid_t, keepsOutput: Bool
  ) throws -> (pid_t, Int32) {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw EngineError("cannot make a pipe for a worker: \(String(cString: strerror(errno)))") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], STDERR_FILENO)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    if !keepsOutput { posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attributes, processGroup)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    close(pipeEnds[1])
    guard status == 0 else {
      close(pipeEnds[0])
      throw EngineError("cannot start a worker (\(executable)): \(String(cString: strerror(status)))")
    }
    return (pid, pipeEnds[0])
  }

  private static func executablePath() throws -> String {
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
    return CommandLine.arguments[0]
  }

  // waitpid's status word, as the W* macros (which Swift does not import) read it.
  static func exitCode(_ status: Int32) -> Int32 { (status >> 8) & 0xff }
  static func signalNumber(_ status: Int32) -> Int32 { status & 0x7f }
  static func succeeded(_ status: Int32) -> Bool { signalNumber(status) == 0 && exitCode(status) == 0 }

  /// A worker that stopped because SIGINT or SIGTERM asked it to (exit 130 or 143 after its
  /// checkpoint), which is no failure of its own.
  static func interrupted(_ status: Int32) -> Bool {
    signalNumber(status) == 0 && [128 + SIGINT, 128 + SIGTERM].contains(exitCode(status))
  }

  static func describe(_ status: Int32) -> String {
    let number = signalNumber(status)
    if number != 0 {
      let name = number == SIGKILL ? "SIGKILL: killed, or out of memory" : number == SIGSEGV ? "SIGSEGV" : "signal \(number)"
      return "died (\(name))"
    }
    return "failed (exit status \(exitCode(status)))"
  }
}
