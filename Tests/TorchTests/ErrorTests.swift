import Testing

@testable import Torch

/// `withTorchErrors` turns libtorch failures into `TorchError`s naming our operation and carrying
/// libtorch's message.
@Suite struct ErrorTests {
  let x = Tensor([1, 2, 3] as [Float])

  /// Runs `body` inside `withTorchErrors` and returns the error it must throw.
  func failure(_ body: () -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> TorchError? {
    #expect(throws: TorchError.self, sourceLocation: sourceLocation) { try withTorchErrors { body() } }
  }

  @Test func badShapesNameTheOperation() throws {
    let reshape = try #require(failure { _ = x.reshaped([2, 2]) })
    #expect(reshape.operation == "reshaped([2, 2])")
    #expect(reshape.message.contains("shape '[2, 2]' is invalid for input of size 3"))
    #expect(reshape.description == "reshaped([2, 2]): \(reshape.message)")

    let m = Tensor.zeros([2, 3])
    let matmul = try #require(failure { _ = m.matmul(m) })
    #expect(matmul.operation == "matmul")
    #expect(matmul.message.contains("cannot be multiplied"))
    #expect(matmul.message.contains("2x3"))

    let add = try #require(failure { _ = x + Tensor.zeros([4]) })
    #expect(add.operation == "add")
    #expect(add.message.contains("must match the size of tensor b (4)"))

    let cat = try #require(failure { _ = Tensor.concatenate([m, Tensor.zeros([2, 4])]) })
    #expect(cat.operation == "concatenate")
    #expect(cat.message.contains("Sizes of tensors must match"))

    let image = Tensor.zeros([1, 2, 5, 5])
    let conv = try #require(failure { _ = Functional.conv2d(image, weight: Tensor.zeros([4, 3, 3, 3])) })
    #expect(conv.operation == "conv2d")
    #expect(conv.message.contains("expected input[1, 2, 5, 5] to have 3 channels"))

    // Axes checked on the Swift side fail the same way.
    let size = try #require(failure { _ = Tensor.zeros([2, 3]).split(size: 1, axis: 2) })
    #expect(size.operation == "size(2)")
    #expect(size.message.contains("Dimension out of range"))
    let slice = try #require(failure { _ = x[0..., 0..<1] })
    #expect(slice.operation == "size(1)")

    let select = try #require(failure { _ = x.selecting(index: 5) })
    #expect(select.operation == "selecting")
    #expect(select.message.contains("out of range") || select.message.contains("out of bounds"))

    // libtorch's C++ backtrace is left out: the message is for people.
    #expect(!conv.message.contains("Exception raised from"))
  }

  @Test func badDTypesNameTheOperation() throws {
    let gather = try #require(failure { _ = x.gather(axis: 0, indices: Tensor([0] as [Float])) })
    #expect(gather.operation == "gather")
    #expect(gather.message.contains("int64"))

    let bitwise = try #require(failure { _ = x.bitwiseAnd(x) })
    #expect(bitwise.operation == "bitwiseAnd")
    #expect(bitwise.message.contains("not implemented for 'Float'"))

    // Dividing an integer tensor in place cannot hold the float result.
    let i = Tensor([1, 2] as [Int])
    let divide = try #require(failure { i /= 2 })
    #expect(divide.operation == "div_")
    #expect(divide.message.contains("Long"))
    #expect(i.toArray(Int.self) == [1, 2])

    let loss = try #require(failure {
      _ = Functional.crossEntropy(Tensor.zeros([2, 3]), targets: Tensor([0.5, 1] as [Float]))
    })
    #expect(loss.operation == "crossEntropy")
  }

  @Test func firstErrorWins() throws {
    let error = try #require(failure {
      _ = x.reshaped([5])
      _ = x.matmul(Tensor.zeros([7, 2]))
      _ = x.selecting(index: 10)
    })
    #expect(error.operation == "reshaped([5])")
  }

  @Test func successReturnsTheValue() throws {
    let y = try withTorchErrors { x * 2 }
    #expect(y.toArray(Float.self) == [2, 4, 6])
    // A failure in an earlier scope does not leak into the next one.
    _ = failure { _ = x.reshaped([7]) }
    let z = try withTorchErrors { x.reshaped([3, 1]) }
    #expect(z.shape == [3, 1])
  }

  @Test func swiftErrorsFromTheBodyPassThrough() {
    struct Custom: Error {}
    #expect(throws: Custom.self) { try withTorchErrors { throw Custom() } }
  }

  @Test func nestedScopes() throws {
    // The inner scope throws its own error, which the outer scope's body may handle.
    let outer = try withTorchErrors { () -> String in
      let inner = #expect(throws: TorchError.self) { try withTorchErrors { _ = x.reshaped([4]) } }
      return inner?.operation ?? "none"
    }
    #expect(outer == "reshaped([4])")

    // An inner error that is not caught propagates through the outer scope unchanged.
    let propagated = try #require(throws: TorchError.self) {
      try withTorchErrors {
        try withTorchErrors { _ = x.reshaped([4]) }
        _ = x.matmul(Tensor.zeros([9, 9]))
      }
    }
    #expect(propagated.operation == "reshaped([4])")

    // Failures after an inner scope are the outer scope's.
    let later = try #require(
      failure {
        _ = try? withTorchErrors { x * 2 }
        _ = x.selecting(index: 9)
      })
    #expect(later.operation == "selecting")

    // A failure before the inner scope stays with the outer scope; the inner one succeeds.
    var innerSucceeded = false
    let first = try #require(
      failure {
        _ = x.reshaped([8])
        innerSucceeded = (try? withTorchErrors { x + 1 }) != nil
      })
    #expect(first.operation == "reshaped([8])")
    #expect(innerSucceeded)
  }

  /// A failed operation returns an undefined placeholder; everything done with it afterwards in the
  /// scope fails quietly, and the first error is the one reported.
  @Test func placeholdersCanBeUsedAfterAFailure() throws {
    var leftover: Tensor?
    let error = try #require(
      failure {
        let bad = x.reshaped([2, 2])
        leftover = bad
        #expect(!bad.isDefined)
        #expect(bad.count == 0)
        _ = bad.rank
        _ = bad.count
        _ = bad.dtype
        _ = bad.device
        _ = bad.isContiguous
        _ = bad.size(0)
        _ = bad.size(-1)
        _ = bad.description
        _ = bad.toArray(Float.self)
        _ = bad.bytes()
        _ = bad.item()
        _ = bad.doubleValue()
        _ = bad.intValue()
        _ = bad + 1
        _ = x + bad
        _ = bad * bad
        _ = bad .> 0
        _ = bad.sum()
        _ = bad.max(axis: 0)
        _ = bad.reshaped([4])
        _ = bad.to(.float64)
        _ = bad.contiguous()
        _ = bad.clone()
        _ = bad.detached()
        _ = bad.split(size: 1)
        _ = bad.chunked(2)
        _ = bad.unstacked()
        _ = bad[0]
        _ = bad[0..<1]
        _ = bad[0..<1, 1..., 2]
        _ = bad.size(3)
        _ = bad[.ellipsis, 0]
        _ = bad[bad .> 0]
        _ = Tensor.concatenate([x, bad])
        _ = Tensor.stack([bad, bad])
        _ = Tensor.meshgrid([bad, x])
        _ = Functional.conv2d(bad, weight: bad)
        _ = Functional.crossEntropy(bad, targets: bad)
        _ = Functional.sigmoidFocalLoss(bad, targets: bad)
        _ = bad.topK(1)
        _ = bad.sharesStorage(with: x)
        _ = bad.isClose(to: x)
        _ = bad.isEqual(to: x)
        bad.requiresGrad = true
        _ = bad.requiresGrad
        _ = bad.isLeaf
        _ = bad.grad
        bad.zeroGradient()
        bad.backward()
        _ = gradients(of: [bad], withRespectTo: [x])
        bad.copy(from: x)
        x.copy(from: bad)
        bad.fill(with: 1)
        bad.zero()
        bad.clamp(min: 0)
        bad.apply(.relu)
        bad.fillNormal()
        bad[0] = x
        let mutable = bad
        mutable += 1
        _ = Tensor(bytes: UnsafeRawBufferPointer(start: nil, count: 0), shape: [3], dtype: .float32)
        _ = Tensor(repeating: 1, shape: [-1])
      })
    #expect(error.operation == "reshaped([2, 2])")
    #expect(error.message.contains("invalid for input of size 3"))
    // Outside the scope the placeholder can still be asked whether it is real, and printed.
    let placeholder = try #require(leftover)
    #expect(!placeholder.isDefined)
    #expect(placeholder.description.contains("undefined"))
    // x was not changed by the failed copies.
    #expect(x.toArray(Float.self) == [1, 2, 3])
  }

  /// Outside `withTorchErrors` a failing operation stops the program with libtorch's message, the
  /// way an out-of-range array index does.
  @Test func failuresOutsideAScopeStopTheProgram() async throws {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor([1, 2, 3] as [Float]).reshaped([2, 2])
    }
    let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
    #expect(stderr.contains("Torch.reshaped([2, 2]): shape '[2, 2]' is invalid for input of size 3"))
  }

  @Test func operationsOutsideAScopeStillWork() throws {
    _ = failure { _ = x.reshaped([9]) }
    #expect((x + 1).toArray(Float.self) == [2, 3, 4])
  }
}
