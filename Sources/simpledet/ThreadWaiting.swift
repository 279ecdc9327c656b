import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// How libtorch's OpenMP threads (libgomp) wait between parallel regions. By default they spin
/// for milliseconds; when another process shares the cores, a thread spinning at a barrier holds
/// a core that the thread it waits for needs, and a training run on 2 cores beside one busy
/// neighbour fell from ~4 to ~0.25 images/s while still using 100–190% CPU. With short spinning
/// (`GOMP_SPINCOUNT`) the threads soon sleep instead. libgomp reads its settings once, when it
/// loads (before `main`), so the command line re-executes itself with the setting in its
/// environment; a user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` is left as it is.
enum ThreadWaiting {
  static let spinCount = "1000"

  /// Re-executes this process with `GOMP_SPINCOUNT` set unless the user configured OpenMP's
  /// waiting; returns when it did not (or could not) re-execute.
  static func spinBrieflyUnlessConfigured() {
    #if os(Linux)
      let environment = ProcessInfo.processInfo.environment
      guard environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil else { return }
      setenv("GOMP_SPINCOUNT", spinCount, 1)
      execv("/proc/self/exe", CommandLine.unsafeArgv)
      // Only a failed exec returns: carry on with libgomp's defaults.
      unsetenv("GOMP_SPINCOUNT")
    #endif
  }

  /// What `info` reports.
  static var description: String {
    let environment = ProcessInfo.processInfo.environment
    if let policy = environment["OMP_WAIT_POLICY"] { return "OMP_WAIT_POLICY=\(policy)" }
    if let count = environment["GOMP_SPINCOUNT"] { return "GOMP_SPINCOUNT=\(count)" }
    return "libgomp's default (spinning)"
  }
}
