import Config
import Data
import Foundation
import Testing

private let sharedRunFolder = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-cli-\(UUID().uuidString)")

/// eval, predict, plot, weights and benchmark on tiny inputs, and the one-line errors of bad input.
@Suite(.serialized) struct CommandTests {
  /// A trained tiny run shared by the tests below (training once keeps the suite fast); removed
  /// when the test process exits.
  static let run: ScratchFolder = {
    let folder = try! ScratchFolder(url: sharedRunFolder)
    atexit { try? FileManager.default.removeItem(at: sharedRunFolder) }
    try! folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))
    let result = try! CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run"], in: folder.url)
    precondition(result.status == 0, "tiny training failed: \(result.errors)")
    return folder
  }()

  @Test func evalWritesTheTwelveMetrics() throws {
    let folder = Self.run
    let result = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--output", "evaluated", "--json"], in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("evaluated/eval.json"))) as? [String: [String: Double]]
    let keys = Set(json?["bbox"]?.keys.map { $0 } ?? [])
    #expect(keys == Set(["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]))
    let printed = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
    #expect(printed?["bbox"] != nil)
  }

  /// docs/models.md's COCO check: a config whose data section is switched to COCO files on the
  /// command line, with test annotations only (eval reads no training split).
  @Test func evalOnCOCOFilesNeedsOnlyTheTestSplit() throws {
    let folder = Self.run
    let synth = try CommandLineRunner.run(["dataset", "synth", "--out", "coco", "--images", "3", "--seed", "11"], in: folder.url)
    #expect(synth.status == 0, "\(synth.errors)")
    let result = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--json", "--set", "data.kind=coco",
       "--set", "data.test.annotations=coco/annotations.json", "--set", "data.test.images=coco/images"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    let printed = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: [String: Double]]
    #expect(printed?["bbox"]?["AP"] != nil, "\(result.output)")
  }

  @Test func predictWritesJSONAndPictures() throws {
    let folder = Self.run
    let shapes = ShapesDataset(imageCount: 2, seed: 7)
    try FileManager.default.createDirectory(at: folder.path("images"), withIntermediateDirectories: true)
    for i in 0..<2 {
      try ImageCodec.encodePNG(shapes.image(at: i)).write(to: folder.path("images/shape\(i).png"))
    }
    let result = try CommandLineRunner.run(
      ["predict", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--input", "images", "--output", "seen",
       "--score-threshold", "0.0"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(folder.exists("seen/shape0.png") && folder.exists("seen/shape1.png"))
    let picture = try ImageCodec.decode(contentsOf: folder.path("seen/shape0.png"))
    let original = shapes.image(at: 0)
    #expect(picture.width == original.width && picture.height == original.height)
    let predictions = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("seen/predictions.json"))) as? [[String: Any]]
    // Score threshold 0 keeps every detection, so even a barely trained model reports some.
    #expect(!(predictions ?? []).isEmpty)
    for p in predictions ?? [] {
      let box = p["bbox"] as? [Double] ?? []
      let fileName = p["file_name"] as? String ?? ""
      #expect(box.count == 4 && ["shape0.png", "shape1.png"].contains(fileName))
      #expect(["circle", "rectangle", "triangle"].contains(p["category_name"] as? String ?? ""))
      #expect(p["score"] is Double && p["category_id"] is Int)
    }
  }

  /// Test-time augmentation through the command line: one pass at the test size is plain
  /// prediction, byte for byte; several sizes and flips predict and evaluate.
  @Test func predictAndEvalWithTestTimeAugmentation() throws {
    let folder = Self.run
    try FileManager.default.createDirectory(at: folder.path("tta-images"), withIntermediateDirectories: true)
    try ImageCodec.encodePNG(ShapesDataset(imageCount: 1, seed: 9).image(at: 0)).write(to: folder.path("tta-images/a.png"))
    func predict(_ output: String, _ overrides: [String]) throws -> Data {
      let result = try CommandLineRunner.run(
        ["predict", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--input", "tta-images",
         "--output", output, "--score-threshold", "0"] + overrides.flatMap { ["--set", $0] },
        in: folder.url)
      #expect(result.status == 0, "\(result.errors)")
      return try Data(contentsOf: folder.path("\(output)/predictions.json"))
    }
    let plain = try predict("tta-plain", [])
    #expect(try predict("tta-one", ["test.augment={scales: [96]}"]) == plain)
    let augmented = try predict("tta-many", ["test.augment={scales: [64, 128], flip: true}", "test.nms={kind: wbf}"])
    let predictions = try JSONSerialization.jsonObject(with: augmented) as? [[String: Any]] ?? []
    #expect(!predictions.isEmpty && predictions.count <= 100)
    let eval = try CommandLineRunner.run(
      ["eval", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--json", "--set",
       "test.augment={scales: [80, 112], flip: true, merge: {kind: soft}}"],
      in: folder.url)
    #expect(eval.status == 0, "\(eval.errors)")
    let printed = try JSONSerialization.jsonObject(with: Data(eval.output.utf8)) as? [String: [String: Double]]
    #expect(printed?["bbox"]?["AP"] != nil, "\(eval.output)")
  }

  @Test func maskRCNNTrainsEvaluatesAndPredictsMasks() throws {
    let folder = try ScratchFolder()
    let config = tinyConfig(maxIterations: 2, checkpointPeriod: 0)
      .replacingOccurrences(
        of: "  roi_heads:\n", with: "  roi_heads:\n    mask_head: {convolutions: [16], predictor_channels: 16}\n")
    try folder.write("mask.yaml", config)
    let train = try CommandLineRunner.run(["train", "--config", "mask.yaml", "--output", "run"], in: folder.url)
    #expect(train.status == 0, "\(train.errors)")
    let eval = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("run/eval.json"))) as? [String: [String: Double]]
    #expect(eval?["segm"]?["AP"] != nil && eval?["bbox"]?["AP"] != nil)

    try FileManager.default.createDirectory(at: folder.path("images"), withIntermediateDirectories: true)
    try ImageCodec.encodePNG(ShapesDataset(imageCount: 1, seed: 3).image(at: 0)).write(to: folder.path("images/a.png"))
    let predict = try CommandLineRunner.run(
      ["predict", "--config", "run/config.yaml", "--weights", "run/model_final.safetensors", "--input", "images/a.png",
       "--output", "seen", "--score-threshold", "0"],
      in: folder.url)
    #expect(predict.status == 0, "\(predict.errors)")
    let predictions = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("seen/predictions.json"))) as? [[String: Any]] ?? []
    #expect(!predictions.isEmpty)
    let image = ShapesDataset(imageCount: 1, seed: 3).image(at: 0)
    for p in predictions {
      let segmentation = p["segmentation"] as? [String: Any]
      #expect(segmentation?["size"] as? [Int] == [image.height, image.width])
      #expect(segmentation?["counts"] is String)
    }
    // Masks through test-time augmentation: flipped passes mirror theirs back.
    let augmented = try CommandLineRunner.run(
      ["predict", "--config", "run/config.yaml", "--weights", "run/model_final.safetensors", "--input", "images/a.png",
       "--output", "seen-tta", "--score-threshold", "0", "--set", "test.augment={scales: [80, 112], flip: true}"],
      in: folder.url)
    #expect(augmented.status == 0, "\(augmented.errors)")
    let withTTA = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("seen-tta/predictions.json"))) as? [[String: Any]] ?? []
    #expect(!withTTA.isEmpty && withTTA.allSatisfy { ($0["segmentation"] as? [String: Any])?["counts"] is String })
  }

  @Test func plotDrawsCurves() throws {
    let folder = Self.run
    try? FileManager.default.removeItem(at: folder.path("run/curves.png"))
    let result = try CommandLineRunner.run(["plot", "run"], in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    let image = try ImageCodec.decode(contentsOf: folder.path("run/curves.png"))
    #expect(image.width > 100 && image.height > 100)
  }

  @Test func weightsImportConvertsAPthStateDict() throws {
    let folder = try ScratchFolder()
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("TorchTests/Fixtures/state_dict.pth")
    let result = try CommandLineRunner.run(["weights", "import", fixture.path, "--out", "w.safetensors"], in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(result.output.contains("tensors"))
    #expect(folder.exists("w.safetensors"))
    let bad = try CommandLineRunner.run(["weights", "import", "missing.pth", "--out", "x.safetensors"], in: folder.url)
    #expect(bad.status == 1 && bad.errors.contains("missing.pth"))
  }

  @Test func benchmarkPrintsJSON() throws {
    let folder = Self.run
    let result = try CommandLineRunner.run(
      ["benchmark", "--config", "tiny.yaml", "--mode", "train", "--size", "64", "--batch", "1", "--iters", "1", "--warmup", "0", "--threads", "1", "--json"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
    for key in ["images_per_sec", "sec_per_iter", "peak_rss_mb", "peak_tensor_mb"] {
      #expect(json?[key] is Double, "no \(key)")
    }
  }

  /// The peak bytes held by tensors count the weights, and in training their gradients and SGD's
  /// momentum too; they grow with the batch, and stay below the resident set.
  @Test func benchmarkCountsTensorMemory() throws {
    let folder = Self.run
    func peak(_ mode: String, batch: Int) throws -> (tensors: Double, rss: Double) {
      let result = try CommandLineRunner.run(
        ["benchmark", "--config", "tiny.yaml", "--mode", mode, "--size", "128", "--batch", "\(batch)", "--iters", "2", "--warmup", "1",
         "--threads", "1", "--json"],
        in: folder.url)
      try #require(result.status == 0, "\(result.errors)")
      let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
      return (try #require(json["peak_tensor_mb"] as? Double), try #require(json["peak_rss_mb"] as? Double))
    }
    let config = try SimpleDetConfig.load(file: folder.path("tiny.yaml").path)
    let parameters = config.model.detector.makeDetector().parameters().reduce(0) { $0 + $1.shape.reduce(1, *) }
    let weightsMB = Double(parameters * 4) / 1_048_576
    let infer = try peak("infer", batch: 1)
    let train1 = try peak("train", batch: 1)
    let train4 = try peak("train", batch: 4)
    #expect(infer.tensors > weightsMB && infer.tensors < infer.rss, "\(infer), weights \(weightsMB) MB")
    #expect(train1.tensors > 3 * weightsMB && train1.tensors < train1.rss, "\(train1), weights \(weightsMB) MB")
    #expect(train4.tensors > train1.tensors + 1, "batch 4: \(train4.tensors) MB, batch 1: \(train1.tensors) MB")
  }

  @Test func benchmarkProfilesOneIteration() throws {
    let folder = Self.run
    let result = try CommandLineRunner.run(
      ["benchmark", "--config", "tiny.yaml", "--mode", "infer", "--size", "64", "--batch", "1", "--iters", "1", "--warmup", "0", "--threads", "1", "--profile", "trace.json"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(result.errors.contains("aten::"), "no operator in the profile: \(result.errors)")
    #expect(result.errors.contains("all operators:"))
    #expect(folder.exists("trace.json"))
  }

  /// The library keeps freed tensor memory for reuse, unless the user configured malloc or opted out.
  @Test func freedMemoryIsReusedUnlessMallocIsConfigured() throws {
    let folder = FileManager.default.temporaryDirectory
    let plain = try CommandLineRunner.run(["info"], in: folder, environment: ["GLIBC_TUNABLES": "", "SIMPLEDET_MALLOC": ""])
    #expect(plain.status == 0, "\(plain.errors)")
    #expect(plain.output.contains("freed memory reused yes"), "\(plain.output)")
    let settings = [
      ["SIMPLEDET_MALLOC": "system"], ["MALLOC_TRIM_THRESHOLD_": "131072"],
      ["GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"],
    ]
    for setting in settings {
      let configured = try CommandLineRunner.run(["info"], in: folder, environment: setting)
      #expect(configured.output.contains("freed memory reused no"), "\(setting): \(configured.output)")
    }
  }

  /// The command line re-executes itself so that libgomp spins briefly before sleeping (it reads
  /// the setting only when it loads), unless the user configured OpenMP's waiting.
  @Test func openMPThreadsSpinBrieflyUnlessConfigured() throws {
    let folder = FileManager.default.temporaryDirectory
    let plain = try CommandLineRunner.run(["info"], in: folder)
    #expect(plain.status == 0, "\(plain.errors)")
    #expect(plain.output.contains("OpenMP waiting GOMP_SPINCOUNT=1000"), "\(plain.output)")
    let configured = try CommandLineRunner.run(["info"], in: folder, environment: ["OMP_WAIT_POLICY": "ACTIVE"])
    #expect(configured.output.contains("OpenMP waiting OMP_WAIT_POLICY=ACTIVE"), "\(configured.output)")
  }

  @Test(arguments: ["train", "eval", "predict", "benchmark", "dataset", "weights", "plot", "info"])
  func everyCommandHasHelp(_ command: String) throws {
    let result = try CommandLineRunner.run([command, "--help"], in: FileManager.default.temporaryDirectory)
    #expect(result.status == 0)
    #expect(result.output.contains("USAGE"))
  }

  /// Each bad input gives one line naming the problem and exit status 1.
  @Test func badInputsFailInOneLine() throws {
    let folder = Self.run
    try folder.write("corrupt.safetensors", "this is not a weight file")
    try folder.write("a-file", "")
    let cases: [([String], String)] = [
      (["train", "--config", "missing.yaml"], "missing.yaml"),
      (["train", "--config", "tiny.yaml", "--set", "solver.base_rl=0.1"], "solver.base_rl"),
      (["train", "--config", "tiny.yaml", "--set", "data.kind=coco", "--set", "data.train.annotations=nowhere.json", "--set", "data.test.annotations=nowhere.json", "--output", "o1"], "nowhere.json"),
      (["train", "--config", "tiny.yaml", "--output", "a-file/run"], "a-file"),
      (["eval", "--config", "tiny.yaml", "--weights", "corrupt.safetensors"], "corrupt.safetensors"),
      (["predict", "--config", "tiny.yaml", "--weights", "corrupt.safetensors", "--input", "run", "--output", "p"], "corrupt.safetensors"),
      (["predict", "--config", "tiny.yaml", "--weights", "run/model_final.safetensors", "--input", "no-such-images", "--output", "p"], "no-such-images"),
      (["plot", "nowhere"], "nowhere"),
    ]
    for (arguments, named) in cases {
      let result = try CommandLineRunner.run(arguments, in: folder.url)
      let lines = result.errors.split(separator: "\n")
      #expect(result.status == 1, "\(arguments): status \(result.status)")
      #expect(lines.count == 1 && result.errors.contains(named), "\(arguments): \(result.errors)")
    }
  }

  @Test func corruptCheckpointRefusesResume() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 1))
    let first = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run", "--set", "solver.max_iter=1"], in: folder.url)
    #expect(first.status == 0, "\(first.errors)")
    try folder.write("run/checkpoints/0000001.state.safetensors", "garbage")
    let resumed = try CommandLineRunner.run(["train", "--config", "tiny.yaml", "--output", "run", "--resume"], in: folder.url)
    #expect(resumed.status == 1)
    #expect(resumed.errors.contains("0000001.state.safetensors") && resumed.errors.split(separator: "\n").count == 1, "\(resumed.errors)")
  }
}
