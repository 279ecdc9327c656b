import Foundation
import Testing

@testable import Torch

struct OperatorProfileTests {
  @Test func selfTimeExcludesNestedOperatorsPerThread() throws {
    // Thread 1: outer [0, 100) holds inner [10, 40) and inner [50, 70); thread 2 runs another
    // inner [0, 30) on its own. Times are microseconds, as in libtorch's traces.
    let trace = """
      [{"name": "outer", "ph": "X", "ts": 0, "dur": 100, "tid": 1},
       {"name": "inner", "ph": "X", "ts": 10, "dur": 30, "tid": 1},
       {"name": "inner", "ph": "X", "ts": 50, "dur": 20, "tid": 1},
       {"name": "inner", "ph": "X", "ts": 0, "dur": 30, "tid": 2},
       {"name": "flow", "ph": "s", "ts": 5, "tid": 1}]
      """
    let profile = try OperatorProfile(chromeTrace: Data(trace.utf8))
    #expect(profile.entries.map(\.name) == ["inner", "outer"])
    let inner = profile.entries[0]
    let outer = profile.entries[1]
    #expect(inner.calls == 3)
    #expect(Swift.abs(inner.selfSeconds - 80e-6) < 1e-12)
    #expect(outer.calls == 1)
    #expect(Swift.abs(outer.selfSeconds - 50e-6) < 1e-12)
    #expect(Swift.abs(outer.totalSeconds - 100e-6) < 1e-12)
  }

  @Test func recordsTheOperatorsAClosureRuns() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(UUID()).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let a = Tensor.ones([64, 64])
    let (sum, profile) = try OperatorProfile.record(tracePath: path) { a.matmul(a).sum().doubleValue() }
    #expect(sum == 64 * 64 * 64)
    #expect(profile.entries.contains { $0.name == "aten::mm" })
    #expect(FileManager.default.fileExists(atPath: path))
  }

  @Test func rejectsATraceThatIsNotAList() {
    #expect(throws: TorchError.self) { try OperatorProfile(chromeTrace: Data("{}".utf8)) }
  }
}
