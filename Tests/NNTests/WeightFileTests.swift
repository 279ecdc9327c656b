import Foundation
import Testing
@testable import NN
@testable import Torch

@Suite struct WeightFileTests {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-weights-\(UUID().uuidString)")

  @Test func saveAndLoadRoundTrip() throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let a = Sequential(Conv2d(1, 2, kernelSize: 3), BatchNorm2d(2), Linear(2, 2))
    let b = Sequential(Conv2d(1, 2, kernelSize: 3), BatchNorm2d(2), Linear(2, 2))
    let url = directory.appendingPathComponent("model.safetensors")
    try a.saveWeights(to: url)
    try b.loadWeights(contentsOf: url)
    for (key, value) in a.stateDict() { #expect(b.stateDict()[key]!.isEqual(to: value), "\(key)") }
  }

  @Test func mismatchedFileNamesTheFileAndTheKeys() throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("other.safetensors")
    try Linear(3, 3).saveWeights(to: url)
    let error = try #require(throws: WeightFileError.self) { try Linear(2, 2).loadWeights(contentsOf: url) }
    #expect(error.description.hasPrefix(url.path))
    #expect(error.description.contains("weight: checkpoint [3, 3] vs model [2, 2]"))
  }

  @Test func missingFileIsAClearError() {
    let error = #expect(throws: WeightFileError.self) {
      try Linear(2, 2).loadWeights(contentsOf: URL(fileURLWithPath: "/nonexistent/model.safetensors"))
    }
    #expect(error?.description.contains("/nonexistent/model.safetensors") == true)
  }

  @Test func optimizerStateFileRoundTrip() throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let p = Tensor([1.0, 2.0]).requiringGrad()
    let opt = AdamW(parameters: [p], learningRate: 0.01)
    p.grad = Tensor([0.5, -1.0])
    opt.step()
    let url = directory.appendingPathComponent("optimizer.safetensors")
    try opt.state().write(to: url)
    let state = try OptimizerState(contentsOf: url)
    #expect(state.scalars == opt.state().scalars)
    #expect(state.tensors["0.exp_avg"]!.isEqual(to: opt.state().tensors["0.exp_avg"]!))
  }
}
