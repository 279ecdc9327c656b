import Foundation
import Testing
import NN
import Torch

/// The README's tensor example, kept here so the documentation cannot drift from the API.
@Suite(.serialized) struct ReadmeExampleTests {
  @Test func linearRegressionExample() throws {
    Torch.threadCount = 2
    let g = Generator(seed: 0)

    let x = Tensor.randn([64, 3], generator: g)
    let trueW = Tensor([1.5, -2.0, 0.5] as [Float], shape: [3, 1])
    let y = x.matmul(trueW) + 0.3

    let model = Linear(3, 1, generator: g)
    let optimizer = SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9)
    for _ in 0..<200 {
      let loss = Functional.mseLoss(model(x), targets: y)
      optimizer.zeroGradients()
      loss.backward()
      optimizer.step()
    }
    let learned = model.weight.toArray(Float.self)
    #expect(zip(learned, [1.5, -2.0, 0.5] as [Float]).allSatisfy { Swift.abs($0 - $1) < 0.01 })
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("linear-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafeTensors.write(model.stateDict(), to: url)

    let error = #expect(throws: TorchError.self) { try withTorchErrors { _ = x.reshaped([5, -1]) } }
    #expect(error?.description == "reshaped([5, -1]): shape '[5, -1]' is invalid for input of size 192")
  }
}
