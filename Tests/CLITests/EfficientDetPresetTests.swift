import Foundation
import Testing

/// The shapes EfficientDet-D0 preset (EfficientNet-B0 at half width, BiFPN, RetinaNet head)
/// trains through `simpledet train` as a user runs it, shortened to three steps on small images.
@Suite struct EfficientDetPresetTests {
  @Test func shapesPresetTrainsThroughTheCommandLine() throws {
    let folder = try ScratchFolder()
    let config = repositoryRoot.appendingPathComponent("configs/shapes/efficientdet_d0.yaml").path
    let result = try CommandLineRunner.run(
      ["train", "--config", config, "--output", "run",
       "--set", "solver.max_iter=3", "--set", "solver.warmup_iters=1", "--set", "solver.steps=[2]", "--set", "solver.batch_size=2",
       "--set", "model.transform.min_size=[128]", "--set", "model.transform.max_size=128",
       "--set", "data.train.image_count=4", "--set", "data.test.image_count=2", "--set", "data.workers=1",
       "--set", "runtime.threads=1", "--set", "runtime.log_period=1", "--set", "runtime.checkpoint_period=0",
       "--set", "runtime.eval_period=0"],
      in: folder.url)
    #expect(result.status == 0, "\(result.errors)")
    #expect(folder.exists("run/model_final.safetensors") && folder.exists("run/eval.json"))
    let metrics = try String(contentsOf: folder.path("run/metrics.jsonl"), encoding: .utf8)
    let steps = metrics.split(separator: "\n").filter { $0.contains("\"loss_classification\"") && $0.contains("\"loss_bbox_regression\"") }
    #expect(steps.count == 3, "\(metrics)")
    let resolved = try String(contentsOf: folder.path("run/config.yaml"), encoding: .utf8)
    #expect(resolved.contains("kind: efficientnet") && resolved.contains("kind: bifpn"))
  }
}
