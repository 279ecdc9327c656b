import Config
import Foundation
import NN
import Torch

@testable import Engine

/// A scratch folder removed when the test ends.
final class ScratchFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("simpledet-engine-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// A Faster R-CNN small enough to train a few iterations in a second: shapes images resized to
/// 96 pixels, a ResNet-18 FPN with 16 channels, few proposals.
func tinyConfig(maxIterations: Int = 6) throws -> SimpleDetConfig {
  try SimpleDetConfig.load(overrides: [
    "model.classes=4", "model.backbone.depth=18", "model.backbone.norm=BN", "model.backbone.frozen_stages=0",
    "model.neck.channels=16", "model.transform.min_size=[96]", "model.transform.max_size=128",
    "model.rpn.anchor_sizes=[[8], [16], [32], [64], [128]]",
    "model.rpn.pre_nms_top_n_train=100", "model.rpn.post_nms_top_n_train=50",
    "model.rpn.pre_nms_top_n_test=50", "model.rpn.post_nms_top_n_test=20", "model.rpn.batch_size_per_image=32",
    "model.roi_heads.batch_size_per_image=16", "model.roi_heads.box_head={kind: two_mlp, representation_size: 32}",
    "data.kind=shapes", "data.train.image_count=8", "data.test.image_count=4", "data.workers=1",
    "solver.base_lr=0.01", "solver.batch_size=2", "solver.max_iter=\(maxIterations)", "solver.warmup_iters=2",
    "solver.steps=[4]", "solver.clip_grad_norm=10.0",
    "runtime.threads=2", "runtime.log_period=1", "runtime.checkpoint_period=3", "runtime.eval_period=0",
  ])
}

/// A tiny one-stage detector (`retinanet` or `fcos`) on the same data and schedule as `tinyConfig`.
func tinyOneStageConfig(kind: String, maxIterations: Int = 3) throws -> SimpleDetConfig {
  var model = [
    "model.classes=4", "model.rpn=null", "model.roi_heads=null", "model.head={kind: \(kind)}",
    "model.backbone={depth: 18, norm: BN, frozen_stages: 0, base_channels: 16, out_features: [c3, c4, c5]}",
    "model.neck={kind: fpn, channels: 32, extra_levels: p6p7}", "model.transform.min_size=[96]",
    "model.transform.max_size=128",
  ]
  if kind == "retinanet" {
    model += [
      "model.head.anchor_sizes=[[8], [16], [32], [64], [128]]", "model.head.aspect_ratios=[[1.0], [1.0], [1.0], [1.0], [1.0]]",
    ]
  }
  return try SimpleDetConfig.load(overrides: model + [
    "data.kind=shapes", "data.train.image_count=8", "data.test.image_count=4", "data.workers=1",
    "solver.base_lr=0.01", "solver.batch_size=2", "solver.max_iter=\(maxIterations)", "solver.warmup_iters=2",
    "solver.steps=[4]", "solver.clip_grad_norm=10.0",
    "runtime.threads=2", "runtime.log_period=1", "runtime.checkpoint_period=0", "runtime.eval_period=0",
  ])
}

/// Sets `request` on the stop request after iteration `iteration`, as a signal would.
final class StopAfter: TrainerHook {
  let iteration: Int
  init(_ iteration: Int) { self.iteration = iteration }

  func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    if step.iteration == iteration { trainer.stopRequest.request(SIGTERM) }
  }
}

/// Replaces the box classifier's weight after `from` (with NaN unless `replacement` says
/// otherwise) and restores it after `until` (nil: never).
final class PoisonWeights: TrainerHook {
  let from: Int
  let until: Int?
  let replacement: (Tensor) -> Tensor
  private var saved: Tensor?

  init(from: Int, until: Int?, replacement: @escaping (Tensor) -> Tensor = { $0.fullLike(Double.nan) }) {
    self.from = from
    self.until = until
    self.replacement = replacement
  }

  func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {
    let weight = trainer.model.namedParameters().first { $0.0 == "roi_heads.box_predictor.cls_score.weight" }!.1
    if step.iteration == from {
      saved = weight.clone()
      withNoGrad { weight.copy(from: replacement(weight)) }
    }
    if step.iteration == until, let saved {
      withNoGrad { weight.copy(from: saved) }
    }
  }
}

/// The largest absolute difference between two models' state dicts.
func largestDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double {
  precondition(Set(a.keys) == Set(b.keys), "different state dict keys")
  return a.keys.map { key in (a[key]!.to(.float64) - b[key]!.to(.float64)).abs().max().doubleValue() }.max() ?? 0
}
