import CTorch

/// A source of random numbers with its own seed and state, so results do not depend on what
/// else drew numbers before. Not shared between threads.
public final class Generator {
  let handle: OpaquePointer

  public init(seed: UInt64) {
    var out: OpaquePointer?
    precondition(ct_generator_new(seed, &out) == 0, String(cString: ct_last_error()))
    handle = out!
  }

  deinit { ct_generator_free(handle) }

  /// Restarts the sequence from `seed`.
  public func reseed(_ seed: UInt64) {
    check("Generator.reseed", ct_generator_set_seed(handle, seed))
  }

  /// The full state, to save in a checkpoint and restore with `restore(state:)`.
  public var state: [UInt8] {
    var size = 0
    guard check("Generator.state", ct_generator_get_state(handle, nil, 0, &size)) else { return [] }
    var bytes = [UInt8](repeating: 0, count: size)
    check("Generator.state", ct_generator_get_state(handle, &bytes, size, &size))
    return bytes
  }

  /// Puts back a state read from `state`.
  public func restore(state: [UInt8]) throws {
    try checkThrowing("Generator.restore", ct_generator_set_state(handle, state, state.count))
  }
}

/// Seeds libtorch's global generator (used by operations given no `Generator`).
public func manualSeed(_ seed: UInt64) { ct_manual_seed(seed) }

extension Tensor {
  private static func random(
    _ kind: Int32, _ shape: [Int], _ low: Double, _ high: Double, _ dtype: DType, _ device: Device,
    _ generator: Generator?, _ name: String
  ) -> Tensor {
    let shape64 = shape.map(Int64.init)
    let (type, index) = device.code
    return withExtendedLifetime(generator) {
      make(name) {
        ct_random(kind, shape64, Int64(shape64.count), low, high, dtype.rawValue, type, index, generator?.handle, $0)
      }
    }
  }

  /// Uniform samples in [0, 1).
  public static func rand(
    _ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil
  ) -> Tensor {
    random(0, shape, 0, 1, dtype, device, generator, "rand")
  }

  /// Standard normal samples.
  public static func randn(
    _ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil
  ) -> Tensor {
    random(1, shape, 0, 1, dtype, device, generator, "randn")
  }

  /// Integers drawn uniformly from `range`.
  public static func randint(
    _ range: Range<Int>, shape: [Int], dtype: DType = .int64, device: Device = .cpu, generator: Generator? = nil
  ) -> Tensor {
    random(2, shape, Double(range.lowerBound), Double(range.upperBound), dtype, device, generator, "randint")
  }

  /// 1 with probability `p`, else 0.
  public static func bernoulli(
    _ shape: [Int], probability p: Double, dtype: DType = .float32, device: Device = .cpu,
    generator: Generator? = nil
  ) -> Tensor {
    random(3, shape, p, 0, dtype, device, generator, "bernoulli")
  }

  /// A random ordering of `0..<n`.
  public static func randperm(_ n: Int, device: Device = .cpu, generator: Generator? = nil) -> Tensor {
    let (type, index) = device.code
    return withExtendedLifetime(generator) {
      make("randperm") { ct_randperm(Int64(n), type, index, generator?.handle, $0) }
    }
  }

  /// `count` indices drawn with probabilities proportional to the entries of `self` (1-D or 2-D).
  public func multinomial(count: Int, replacement: Bool = false, generator: Generator? = nil) -> Tensor {
    withExtendedLifetime(generator) {
      Tensor.make("multinomial") { ct_multinomial(handle, Int64(count), replacement ? 1 : 0, generator?.handle, $0) }
    }
  }

  /// Refills the tensor in place with uniform samples in `range`.
  public func fillUniform(_ range: ClosedRange<Double>, generator: Generator? = nil) {
    withExtendedLifetime(generator) {
      _ = check("fillUniform", ct_random_(handle, 0, range.lowerBound, range.upperBound, generator?.handle))
    }
  }

  /// Refills the tensor in place with normal samples.
  public func fillNormal(mean: Double = 0, std: Double = 1, generator: Generator? = nil) {
    withExtendedLifetime(generator) {
      _ = check("fillNormal", ct_random_(handle, 1, mean, std, generator?.handle))
    }
  }
}
