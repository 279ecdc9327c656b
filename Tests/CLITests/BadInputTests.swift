import Foundation
import Testing

/// Wrong inputs a user can give each sub-command: every one ends with a non-zero status and an
/// error naming the problem, never a crash or a backtrace. Runtime errors are one line (status 1);
/// argument errors (status 64) print the usage after their line, as swift-argument-parser does.
@Suite(.serialized) struct BadInputTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var arguments: [String]
    /// A piece of text the first line of the error must contain.
    var named: String
    var testDescription: String { arguments.prefix(2).joined(separator: " ") + " … " + named }
  }

  static let weights = CommandTests.run.path("run/model_final.safetensors").path
  static let torchvisionPreset = repositoryRoot.appendingPathComponent("configs/torchvision/fasterrcnn_resnet50_fpn.yaml").path

  static let cases: [Case] = [
    // Weights that do not fit the config: another class count, another architecture.
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "img.png", "--output", "p", "--set", "model.classes=7"],
         named: "shape mismatches: roi_heads.box_predictor"),
    Case(arguments: ["predict", "--config", torchvisionPreset, "--weights", weights, "--input", "img.png", "--output", "p"],
         named: "missing keys"),
    Case(arguments: ["eval", "--config", "tiny.yaml", "--weights", weights, "--set", "model.backbone.depth=50"], named: "missing keys"),
    Case(arguments: ["benchmark", "--config", "tiny.yaml", "--weights", weights, "--set", "model.classes=7", "--size", "64"],
         named: "model_final.safetensors"),
    // Files that are not what they claim to be.
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "text.png", "--output", "p"], named: "text.png"),
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", "text.png", "--input", "img.png", "--output", "p"],
         named: "text.png: not a weight file"),
    Case(arguments: ["weights", "import", "text.png", "--out", "w.safetensors"], named: "text.png: not a weight file"),
    Case(arguments: ["train", "--config", "text.png"], named: "text.png"),
    Case(arguments: ["eval", "--gt", "text.png", "--results", "text.png"], named: "text.png"),
    Case(arguments: ["dataset", "check", "--annotations", "text.png", "--format", "coco"], named: "text.png"),
    // Folders: empty, or a file where a folder should be.
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "empty", "--output", "p"], named: "empty"),
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "img.png", "--output", "a-file"],
         named: "a-file: a file of that name exists"),
    Case(arguments: ["eval", "--config", "tiny.yaml", "--weights", weights, "--output", "a-file"], named: "a-file: a file of that name exists"),
    Case(arguments: ["train", "--config", "tiny.yaml", "--output", "a-file"], named: "a-file: a file of that name exists"),
    Case(arguments: ["weights", "import", weights, "--out", "a-file/w.safetensors"], named: "a-file"),
    Case(arguments: ["benchmark", "--config", "tiny.yaml", "--size", "64", "--iters", "1", "--warmup", "0", "--profile", "a-file/t.json"],
         named: "a-file"),
    Case(arguments: ["dataset", "synth", "--out", "a-file", "--images", "1"], named: "a-file"),
    Case(arguments: ["plot", "a-file"], named: "a-file"),
    // Values out of range, on the command line and in the config.
    Case(arguments: ["benchmark", "--config", "tiny.yaml", "--size", "0"], named: "size"),
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "img.png", "--output", "p", "--score-threshold", "2"],
         named: "score-threshold"),
    Case(arguments: ["train", "--config", "tiny.yaml", "--set", "model.neck.channels=0"], named: "model.neck.channels"),
    Case(arguments: ["train", "--config", "tiny.yaml", "--set", "data.train.image_count=1000000000"], named: "data.train.image_count"),
    Case(arguments: ["predict", "--config", "tiny.yaml", "--weights", weights, "--input", "img.png", "--output", "p", "--set", "test.detections_per_image=-1"],
         named: "test.detections_per_image"),
  ]

  /// The inputs the cases name, beside the tiny config (its trained weights are `CommandTests`').
  static let folder: ScratchFolder = {
    let folder = try! ScratchFolder()
    try! folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    try! folder.write("text.png", "this is a text file, not an image")
    try! folder.write("a-file", "")
    try! FileManager.default.createDirectory(at: folder.path("empty"), withIntermediateDirectories: true)
    try! FileManager.default.copyItem(at: TorchvisionPresetTests.fixtures.appendingPathComponent("scene.png"), to: folder.path("img.png"))
    return folder
  }()

  @Test(arguments: cases)
  func failsWithOneClearError(_ bad: Case) throws {
    let folder = Self.folder
    let result = try CommandLineRunner.run(bad.arguments, in: folder.url)
    let lines = result.errors.split(separator: "\n", omittingEmptySubsequences: true)
    #expect([1, 64].contains(result.status), "status \(result.status): \(result.errors)")
    #expect(!result.errors.contains("Fatal error") && !result.errors.contains("Backtrace"), "\(result.errors)")
    #expect(lines.first?.contains(bad.named) == true, "\(result.errors)")
    if result.status == 1 {
      #expect(lines.count == 1, "\(result.errors)")
    }
  }
}
