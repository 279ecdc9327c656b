import CTorch

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

  /// Whether glibc's malloc keeps freed tensor memory for reuse in this process. The library
  /// pins malloc's thresholds when it loads (blocks up to 256 MiB from the heap, 1 GiB of free
  /// memory kept), so that each training step or inference does not fault in freshly zeroed pages
  /// for the large activations it allocates (docs/benchmarks.md has the measured gains).
  /// `SIMPLEDET_MALLOC=system`, or thresholds set through `GLIBC_TUNABLES` or glibc's `MALLOC_*_`
  /// variables, leave malloc as configured (then this is false).
  public static var reusesFreedMemory: Bool { ct_malloc_pinned() != 0 }

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

/// Bytes held by CPU tensors (PyTorch's `max_memory_allocated` for the CPU): a counting
/// allocator in front of libtorch's CPU allocation, put there by `startCounting()` (once per
/// process; tensors allocated before it are not counted). Unlike the process's resident set it
/// sees neither the memory malloc keeps for reuse nor code and libraries, only live tensors (and
/// oneDNN's scratch buffers, which come from the same allocator).
public enum TensorMemory {
  public static func startCounting() { ct_memory_tracking_start() }

  /// The most bytes held at once since counting started or `resetPeak()`.
  public static var peakBytes: Int {
    var live: Int64 = 0
    var peak: Int64 = 0
    ct_memory_stats(&live, &peak)
    return Int(peak)
  }

  /// Starts a new peak from what is held now.
  public static func resetPeak() { ct_memory_reset_peak() }

  /// The most bytes held at once, while `body` runs, by the tensors it allocates on the calling
  /// thread (freed on any thread); other threads' allocations do not count, so tests running
  /// beside others can compare what two computations keep. Starts counting if needed (tensors
  /// allocated before that are not seen). One measurement at a time per process.
  public static func peakBytesOnThisThread(during body: () throws -> Void) rethrows -> Int {
    ct_memory_thread_measure_begin()
    do { try body() } catch {
      _ = ct_memory_thread_measure_end()
      throw error
    }
    return Int(ct_memory_thread_measure_end())
  }
}
