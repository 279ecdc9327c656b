import ArgumentParser
import Foundation

/// Prints one line naming the problem (the error's description names the file) and returns exit
/// status 1 to throw: a bad input never shows a stack trace or usage text.
func fail(_ error: any Error) -> ExitCode {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  return ExitCode(1)
}

/// Writes a line to standard output at once: log lines reach a file or pipe as they happen, not
/// when a buffer fills.
func printLine(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
