import Testing
@testable import Torch

@Test func smokeArithmetic() throws {
  let a = Tensor([1, 2, 3] as [Float])
  let b = a * 2 + 1
  #expect(b.toArray(Float.self) == [3, 5, 7])
  #expect(Torch.version.hasPrefix("2.15"))
  let error = #expect(throws: TorchError.self) {
    try withTorchErrors { _ = a.reshaped([2, 2]) }
  }
  #expect(error?.operation == "reshaped([2, 2])")
  print(error!.description)
}
