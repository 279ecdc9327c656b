import Config
import Detection
import Foundation
import NN
import Testing
import Torch

@testable import Engine

@Suite struct InitialWeightsTests {
  @Test func backboneWeightsLoadUnderAPrefix() throws {
    let folder = try ScratchFolder()
    var source = try tinyConfig().model.detector
    source.seed = 99
    let donor = GeneralizedRCNN(source)
    // An "ImageNet" file: the body's tensors under their own names, plus a classifier.
    var body = donor.backbone.body.stateDict()
    body["fc.weight"] = Tensor.zeros([10, 512])
    let file = folder.path("body.safetensors")
    try SafeTensors.write(body, to: file)

    let model = GeneralizedRCNN(try tinyConfig().model.detector)
    let report = try InitialWeights.load(file, prefix: "backbone.body.", into: model)
    #expect(report.loaded == body.count - 1)
    #expect(report.ignored == ["fc.weight"])
    let loaded = model.stateDict()["backbone.body.layer1.0.conv1.weight"]!
    let expected = body["layer1.0.conv1.weight"]!
    #expect((loaded - expected).abs().max().doubleValue() == 0)
  }

  @Test func otherClassCountsKeepTheirInitialisation() throws {
    let folder = try ScratchFolder()
    var other = try tinyConfig().model.detector
    other.classes = 7
    let donor = GeneralizedRCNN(other)
    let file = folder.path("detector.safetensors")
    try donor.saveWeights(to: file)
    let model = GeneralizedRCNN(try tinyConfig().model.detector)
    let report = try InitialWeights.load(file, prefix: "", into: model)
    #expect(report.mismatched.count == 4)  // cls_score and bbox_pred, weight and bias
    #expect(report.loaded == model.stateDict().count - 4)
  }

  @Test func nothingMatchingIsAnError() throws {
    let folder = try ScratchFolder()
    let file = folder.path("unrelated.safetensors")
    try SafeTensors.write(["encoder.weight": Tensor.zeros([2, 2])], to: file)
    let model = GeneralizedRCNN(try tinyConfig().model.detector)
    #expect(throws: EngineError.self) { try InitialWeights.load(file, prefix: "", into: model) }
  }
}
