import CTorch
import Foundation

/// Facts about and settings of the libtorch engine.
public enum Torch {
  /// The libtorch version SimpleDet is built and tested against.
  public static let expectedVersion = "2.15.0"

  /// The version of the libtorch that was loaded.
  public static var version: String { String(cString: ct_version()) }

  /// Threads libtorch uses inside one operation. libtorch keeps this per thread: setting it applies
  /// to the calling thread and to threads that first use libtorch afterwards, so set it before
  /// starting the training thread (or on that thread).
  public static var threadCount: Int {
    get { Int(ct_get_num_threads()) }
    set {
      precondition(newValue > 0, "Torch.threadCount must be positive, got \(newValue)")
      check("Torch.threadCount", ct_set_num_threads(Int32(newValue)))
    }
  }

  /// Whether this CPU computes bfloat16 natively (AVX-512 BF16), which makes bf16 autocast pay.
  public static var cpuHasBFloat16: Bool { ct_has_bf16_cpu() != 0 }

  /// Has the C allocator keep the memory of freed tensors for the next ones instead of handing it
  /// back to the system. glibc otherwise maps every block above 32 MB (one ResNet stage's
  /// activations at 512×512, RoIAlign's pooled features) fresh from the kernel and unmaps it when
  /// freed, so every training step and every inference pays page faults to zero-fill the same
  /// memory again: measured on two cores, 15–20% of a Faster R-CNN inference and ~10% of a
  /// training step, for ~20% more peak memory in training. Call once at start-up; the command
  /// line tools do. Settings given through `GLIBC_TUNABLES` or glibc's `MALLOC_*_` variables take
  /// precedence and are left alone.
  /// - Parameters:
  ///   - largestHeapBlock: blocks up to this size come from the reusable heap.
  ///   - retainedFreeMemory: free memory kept at the top of the heap rather than returned.
  /// - Returns: whether the settings were applied (false where the C library is not glibc, or the
  ///   user configured malloc).
  @discardableResult
  public static func reuseFreedMemory(largestHeapBlock: Int = 256 << 20, retainedFreeMemory: Int = 1 << 30) -> Bool {
    let environment = ProcessInfo.processInfo.environment
    let settings = ["mmap_threshold", "trim_threshold", "top_pad", "mmap_max"]
    let tunables = environment["GLIBC_TUNABLES"] ?? ""
    let userConfigured = settings.contains { setting in
      tunables.contains("glibc.malloc.\(setting)") || environment["MALLOC_\(setting.uppercased())_"] != nil
    }
    guard !userConfigured else { return false }
    let applied = ct_set_malloc_thresholds(Int64(largestHeapBlock), Int64(retainedFreeMemory)) != 0
    if applied { FreedMemoryReuse.shared.record() }
    return applied
  }

  /// Whether `reuseFreedMemory` applied its settings in this process.
  public static var reusesFreedMemory: Bool { FreedMemoryReuse.shared.isOn }

  /// Fails with a clear message when the loaded libtorch is not the one SimpleDet was built for:
  /// a mismatched library can load and then misbehave in ways far from the cause.
  public static func checkVersion() throws {
    let loaded = version
    guard loaded.hasPrefix(expectedVersion) else {
      throw TorchError(
        operation: "Torch.checkVersion",
        message:
          "SimpleDet needs libtorch \(expectedVersion) but \(loaded) was loaded; run scripts/bootstrap.sh or point LIBTORCH at a \(expectedVersion) build"
      )
    }
  }
}

/// The record of `Torch.reuseFreedMemory` having applied its settings (process-wide, as malloc's).
private final class FreedMemoryReuse: @unchecked Sendable {
  static let shared = FreedMemoryReuse()
  private let lock = NSLock()
  private var on = false

  func record() { lock.withLock { on = true } }
  var isOn: Bool { lock.withLock { on } }
}
