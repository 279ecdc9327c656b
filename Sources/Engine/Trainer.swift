import Config
import Data
import Detection
import Foundation
import NN
import Torch

/// What one training iteration did, as hooks see it.
public struct StepRecord: Sendable {
  /// Iterations completed, this one included (1 after the first step).
  public var iteration: Int
  /// Each loss term and their sum; NaN or infinite when the step was skipped.
  public var losses: [String: Double]
  public var totalLoss: Double
  public var learningRate: Double
  /// Seconds waiting for the batch, and in forward, backward and update.
  public var dataTime: Double
  public var stepTime: Double
  public var images: Int
  public var epoch: Int
  /// True when the loss or gradient was not finite and the update was skipped.
  public var skipped: Bool
  /// The loss scale the step ran with (fp16 training only).
  public var lossScale: Double? = nil
  /// Distributed training: bytes this worker sent into the gradient all-reduce, and the share
  /// of that communication which overlapped backward.
  public var allReduceBytes: Int? = nil
  public var communicationHidden: Double? = nil
  /// The signal that asked training to stop after this step (on any worker), if one did.
  public var stopSignal: Int32? = nil
}

/// Called by the trainer around training; hooks log, checkpoint, evaluate and draw.
public protocol TrainerHook: AnyObject {
  func beforeTraining(_ trainer: Trainer) throws
  func afterStep(_ trainer: Trainer, _ step: StepRecord) throws
  func afterTraining(_ trainer: Trainer) throws
}

extension TrainerHook {
  public func beforeTraining(_ trainer: Trainer) throws {}
  public func afterStep(_ trainer: Trainer, _ step: StepRecord) throws {}
  public func afterTraining(_ trainer: Trainer) throws {}
}

/// Training stopped before `solver.max_iter` because a signal asked it to; a checkpoint was written.
public struct TrainingInterrupted: Error, CustomStringConvertible {
  public let signal: Int32
  public let iteration: Int
  public let checkpoint: URL

  public var description: String {
    "interrupted by \(signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)") after iteration \(iteration); checkpoint \(checkpoint.path) written, continue with --resume"
  }
}

/// Trains a detector as a config says: an iteration loop over the training split with the
/// config's optimizer and learning-rate schedule, gradient clipping, and skipping of steps whose
/// loss or gradient is not finite. Logging, checkpoints and evaluation are hooks.
///
/// Resuming restores weights, optimizer state, the detector's random generator and the loader
/// position, so a run killed and resumed ends with the weights an uninterrupted one reaches.
public final class Trainer {
  public let config: SimpleDetConfig
  public let runDirectory: URL
  public let model: any Detector
  public let optimizer: any Optimizer
  public let loader: DataLoader
  public let classes: DetectionClasses
  public let checkpoints: CheckpointStore
  public var hooks: [any TrainerHook] = []
  /// Where trainer and hooks report progress for people (one line each).
  public var log: (String) -> Void = { print($0) }
  public private(set) var state = TrainerState()
  /// Set from a signal handler: finish the step, checkpoint, and stop.
  public let stopRequest = StopRequest()
  private let schedule: LearningRateSchedule
  /// float16 training's loss scaling (nil otherwise); its state lives in `state` too.
  private var lossScaler: LossScaler?
  /// Whether the model's fake quantizers quantize now (nil: not set yet).
  private var fakeQuantizing: Bool?
  /// The teacher and distiller of a `distill:` run.
  let distillation: DistillationSetup?
  /// This worker's place in a distributed run (nil for a single process), and the gradient
  /// averaging across the workers.
  public let distributed: DistributedTraining?
  private let reducer: GradientReducer?
  /// A worker other than rank 0 writes nothing: no logs, metrics, checkpoints or pictures.
  public var isMain: Bool { distributed?.isMain ?? true }

  /// The group a training image belongs to for `data.batch_grouping`: its orientation, or the
  /// size the detector resizes it to (at its largest training scale) and pads it to, from the
  /// annotation's width and height.
  static func batchGroup(_ config: SimpleDetConfig) -> @Sendable (DatasetRecord) -> Int {
    switch config.data.batchGrouping {
    case .aspectRatio: return { $0.isLandscape ? 0 : 1 }
    case .size:
      let transform = config.model.detector.transform
      return { record in
        let size = transform.paddedTestSize(height: record.height, width: record.width)
        return size.height << 32 | size.width
      }
    }
  }

  /// Builds the model, optimizer and loader. `runDirectory` receives checkpoints and logs.
  /// With `distributed`, this process trains its share of every batch (`solver.batch_size` is
  /// the global batch) and averages its gradients with the other workers'.
  public init(config: SimpleDetConfig, runDirectory: URL, distributed: DistributedTraining? = nil) throws {
    guard config.runtime.precision != .int8 else {
      throw EngineError(
        "runtime.precision: int8 is for inference (predict, eval, serve, benchmark); train with model.quantize and fp32")
    }
    var config = config
    self.runDirectory = runDirectory
    self.distributed = distributed
    if let placement = distributed?.placement {
      // Workers on one machine share its cores.
      let cores = ProcessInfo.processInfo.activeProcessorCount
      config.runtime.threads = max(1, min(config.runtime.threads, cores / placement.localWorldSize))
      guard config.solver.batchSize % placement.worldSize == 0 else {
        throw EngineError(
          "solver.batch_size (\(config.solver.batchSize)) is the global batch and must be a multiple of the number of workers (\(placement.worldSize))")
      }
    }
    Torch.threadCount = config.runtime.threads
    var dataset = try RunData.dataset(config.data, split: .train)
    classes = try RunData.classes(of: dataset, modelClasses: config.model.classes)
    // Images with nothing to learn from teach the detector nothing but background (detectron2
    // drops them too).
    dataset.records.removeAll { record in record.instances.allSatisfy { $0.isCrowd } }
    guard dataset.count >= config.solver.batchSize else {
      throw EngineError(
        "the training split has \(dataset.count) images with objects, fewer than solver.batch_size (\(config.solver.batchSize))")
    }
    // SyncBN and SyncIABN layers take their process group as the model is built; in a single
    // process they are BN and IABN.
    model = SyncBatchNorm2d.$processGroup.withValue(distributed?.batchNormGroup) { config.model.detector.makeDetector() }
    model.inference = config.inferenceSettings
    let student = model
    let distillation = try config.distill.map { try DistillationSetup($0, student: student, studentModel: config.model.detector) }
    self.distillation = distillation
    // The distiller's adaptation layers learn with the student, under the same solver settings.
    var groups = config.solver.parameterGroups(for: model)
    if let distiller = distillation?.distiller { groups += config.solver.parameterGroups(for: distiller) }
    switch config.solver.optimizer {
    case .sgd: optimizer = SGD(groups: groups, momentum: config.solver.momentum)
    case .adamw: optimizer = AdamW(groups: groups)
    }
    let sampler = BatchSampler(
      batchSize: config.solver.batchSize, shuffle: true, seed: config.runtime.seed, rank: distributed?.rank ?? 0,
      worldSize: distributed?.worldSize ?? 1)
    let skipReport = SkipReport()
    loader = DataLoader(
      dataset: dataset, transforms: TransformPipeline(config.data.transforms),
      options: LoaderOptions(
        sampler: sampler, workerCount: config.data.workers, includeMasks: model.hasMasks, normalization: .unit,
        onSkip: { skipReport.report($0) }, batchGroup: Self.batchGroup(config)))
    checkpoints = CheckpointStore(runDirectory: runDirectory)
    // `config` says iterations from here on, however the file counted.
    config.solver = config.solver.inIterations(iterationsPerEpoch: loader.batchCount(epoch: 0))
    self.config = config
    schedule = config.solver.learningRateSchedule
    state.randomState = Data(model.randomState).base64EncodedString()
    if config.runtime.precision == .fp16 {
      let scaler = LossScaler(config.runtime.lossScale)
      lossScaler = scaler
      state.lossScale = scaler.scale
      state.lossScaleGrowthTracker = scaler.growthTracker
    }
    if let distributed {
      // The trainable parameters, in the order of the forward pass.
      let trainable = (model.parameters() + (distillation?.distiller.parameters() ?? [])).filter(\.requiresGrad)
      let section = config.runtime.distributed
      let wire: DType? =
        switch section.gradientCompression {
        case .none: nil
        case .fp16: .float16
        case .bf16: .bfloat16
        }
      reducer = try distributed.collective("set up gradient averaging") {
        try GradientReducer(
          group: distributed.group, parameters: trainable, bucketBytes: Int(section.bucketMB * 1_048_576),
          findUnusedParameters: section.findUnusedParameters, wireType: wire)
      }
    } else {
      reducer = nil
    }
  }

  /// Continues from the newest complete checkpoint in the run folder; false when there is none.
  @discardableResult
  public func resume() throws -> Bool {
    if let distributed {
      // Each worker reads the run folder itself (shared, or copied to every machine): a worker
      // that found another checkpoint would train on from another point.
      let found = Int64(checkpoints.latest ?? -1)
      let iterations = try distributed.collective("compare resumed iterations") {
        try distributed.group.allGather(Tensor([found])).reshaped([-1]).toArray(Int64.self)
      }
      if let other = iterations.firstIndex(where: { $0 != iterations[0] }) {
        let says = { (i: Int64) in i < 0 ? "no checkpoint" : "a checkpoint at iteration \(i)" }
        throw EngineError(
          "rank \(other) found \(says(iterations[other])) but rank 0 \(says(iterations[0])): every worker must see the same run folder (a shared file system, or copies of it)")
      }
    }
    guard let latest = checkpoints.latest else { return false }
    let restored = try checkpoints.restore(iteration: latest, model: model, optimizer: optimizer, companion: distillation?.distiller)
    guard let random = Data(base64Encoded: restored.randomState) else {
      throw EngineError("\(checkpoints.stateURL(iteration: latest).path): the random generator state is not base64")
    }
    try model.restoreRandomState([UInt8](random))
    state = restored
    if var scaler = lossScaler {
      // A checkpoint of an fp16 run carries its scale; one of another precision starts afresh.
      if scaler.isDynamic, let scale = restored.lossScale {
        scaler.scale = scale
        scaler.growthTracker = restored.lossScaleGrowthTracker ?? 0
      }
      lossScaler = scaler
      state.lossScale = scaler.scale
      state.lossScaleGrowthTracker = scaler.growthTracker
    }
    return true
  }

  /// Writes a checkpoint of the current state.
  public func saveCheckpoint() throws {
    var snapshot = state
    snapshot.randomState = Data(model.randomState).base64EncodedString()
    try checkpoints.save(model: model, optimizer: optimizer, state: snapshot, companion: distillation?.distiller)
  }

  /// Trains from the current state to `solver.max_iter`, then runs the hooks' final steps.
  public func train() throws {
    let maxIterations = config.solver.maxIterations
    model.train()
    if let distributed {
      // Every worker goes on from rank 0's weights, however it got its own (initialised alike,
      // resumed, or given initial weights that only rank 0 read).
      var tensors = model.parameters() + model.namedBuffers().map(\.1)
      if let distiller = distillation?.distiller { tensors += distiller.parameters() }
      try distributed.broadcastFromMain(tensors)
    }
    for hook in hooks { try hook.beforeTraining(self) }
    if state.iteration < maxIterations {
      let stream = loader.batches(from: state.epoch, batch: state.batchInEpoch)
      let clock = ContinuousClock()
      while state.iteration < maxIterations {
        let waitStart = clock.now
        guard let batch = stream.next() else { throw EngineError("the data loader stopped before solver.max_iter") }
        let dataTime = seconds(clock.now - waitStart)
        let stepStart = clock.now
        updateFakeQuantization(iteration: state.iteration)
        var record = try step(batch)
        record.dataTime = dataTime
        record.stepTime = seconds(clock.now - stepStart)
        for hook in hooks { try hook.afterStep(self, record) }
        if record.skipped && state.nonfiniteInARow >= config.solver.maxNonfiniteSteps {
          let last = checkpoints.latest.map { checkpoints.weightsURL(iteration: $0).path } ?? "none written yet"
          throw EngineError(
            "training stopped at iteration \(state.iteration): the loss or gradient was NaN or infinite in \(state.nonfiniteInARow) steps in a row (solver.max_nonfinite_steps); last good checkpoint: \(last). Try a lower solver.base_lr or set solver.clip_grad_norm")
        }
        // A single process heeds a signal up to the end of the step's hooks; distributed
        // workers stop after the step they agreed on.
        if let signal = distributed == nil ? stopRequest.signal : record.stopSignal {
          if isMain { try saveCheckpoint() }
          throw TrainingInterrupted(signal: signal, iteration: state.iteration, checkpoint: checkpoints.weightsURL(iteration: state.iteration))
        }
      }
    }
    // The trained model is evaluated and used quantized, however long the delay.
    updateFakeQuantization(iteration: nil)
    for hook in hooks { try hook.afterTraining(self) }
  }

  /// Whether the fake quantizers quantize (`model.quantize`): from iteration `delay` on, and
  /// after training (nil); before, they only observe their inputs' ranges.
  private func updateFakeQuantization(iteration: Int?) {
    guard let quantize = config.model.quantize else { return }
    let on = iteration.map { $0 >= quantize.delay } ?? true
    if on != fakeQuantizing {
      model.setFakeQuantizing(on)
      fakeQuantizing = on
    }
  }

  /// One iteration on `batch`: forward, checks, backward, clip, update.
  private func step(_ batch: Batch) throws -> StepRecord {
    let iteration = state.iteration
    let factor = schedule.factor(at: iteration)
    optimizer.scaleLearningRate(by: factor)
    let images = (0..<batch.count).map { batch.image($0) }
    let targets = batch.targets.map { target in
      // The loader's labels count categories from 0; the detector keeps 0 for background.
      var fields = ["boxes": target["boxes"]!, "labels": target["labels"]! + 1]
      if let masks = target["masks"] { fields["masks"] = masks }
      return Instances(imageSize: target.imageSize, fields: fields)
    }
    let forward = {
      withPrecision(self.config.runtime.precision) {
        if let distillation = self.distillation, let student = self.model as? any DistillableDetector {
          return distillation.losses(student: student, images: images, targets: targets)
        }
        return self.model.losses(images, targets: targets)
      }
    }
    let losses: [String: Tensor]
    if let distributed {
      // Each worker draws its own random choices (samplers, sizes) from a generator seeded by
      // the run's seed, the iteration and its rank: no worker's generator state needs saving
      // for an exact resume, and workers do not repeat one another's draws.
      model.generator.reseed(Self.workerSeed(config.runtime.seed, iteration: iteration, rank: distributed.rank))
    }
    if let distributed, let reducer {
      // Cross-process batch norm talks to the other workers in forward: a failure there is
      // an error naming this worker, not a crash.
      losses = try distributed.collective("forward") {
        try reducer.prepareForForward()
        return try withTorchErrors(forward)
      }
    } else {
      losses = forward()
    }
    let names = losses.keys.sorted()
    let total = names.dropFirst().reduce(losses[names[0]]!) { $0 + losses[$1]! }
    // Logged as `loss_*` whatever the detector calls them (torchvision's one-stage detectors
    // say `classification`, `bbox_regression`).
    var values = Dictionary(uniqueKeysWithValues: names.map { name in
      (name.hasPrefix("loss_") ? name : "loss_" + name, losses[name]!.doubleValue())
    })
    var totalValue = total.doubleValue()
    var finite = totalValue.isFinite
    var stopSignal = stopRequest.signal
    if let distributed {
      // All workers take the same decisions: update only when every loss is finite, stop when
      // a signal reached any of them; the step's losses are the means over the workers.
      let keys = values.keys.sorted()
      let sums = try distributed.sum(
        [finite ? 0 : 1, stopSignal == SIGINT ? 1 : 0, stopSignal.map { $0 == SIGINT ? 0 : 1 } ?? 0, finite ? totalValue : 0]
          + keys.map { finite ? values[$0]! : 0 })
      let workers = Double(distributed.worldSize)
      if sums[0] > 0 {
        finite = false
        if totalValue.isFinite { totalValue = .nan }
      } else {
        totalValue = sums[3] / workers
        for (i, key) in keys.enumerated() { values[key] = sums[4 + i] / workers }
      }
      // Any worker's signal stops all, and all name the same one: the launcher's SIGINT reaches
      // the workers one after the other, and one may see it a step before another.
      if sums[1] > 0 {
        stopSignal = SIGINT
      } else if sums[2] > 0 {
        stopSignal = SIGTERM
      }
    }
    let scale = state.lossScale
    var communication: (bytes: Int, hiddenShare: Double)?
    if finite {
      optimizer.zeroGradients()
      let parameters = optimizer.groups.flatMap(\.parameters)
      if let reducer, let distributed {
        try distributed.collective("average gradients") {
          try reducer.prepareForBackward([total])
          try withTorchErrors {
            if let scaler = lossScaler {
              scaler.backward(total, parameters: parameters)
            } else {
              total.backward()
            }
          }
        }
        communication = reducer.lastBackward
      } else if let scaler = lossScaler {
        scaler.backward(total, parameters: parameters)
      } else {
        total.backward()
      }
      let norm: Tensor =
        if let maxNorm = config.solver.clipGradientNorm {
          clipGradientNorm(parameters, maxNorm: maxNorm)
        } else {
          gradientNorm(parameters)
        }
      finite = norm.doubleValue().isFinite
      if finite { optimizer.step() }
      optimizer.zeroGradients()
    }
    state.iteration += 1
    state.epoch = batch.epoch
    state.batchInEpoch = batch.index + 1
    // A dynamic scale too high for float16 is expected now and then: the scale halves and the
    // step is skipped, without counting towards max_nonfinite_steps while a lower scale is left.
    let overflow = !finite && totalValue.isFinite && (lossScaler?.isDynamic ?? false) && (scale ?? 1) > 1
    if var scaler = lossScaler {
      scaler.update(finite: finite)
      lossScaler = scaler
      state.lossScale = scaler.scale
      state.lossScaleGrowthTracker = scaler.growthTracker
    }
    if finite {
      state.nonfiniteInARow = 0
    } else {
      if !overflow { state.nonfiniteInARow += 1 }
      state.nonfiniteSkipped += 1
      if overflow {
        log("warning: iteration \(state.iteration): gradient not finite at loss scale \(scale ?? 1); step skipped, scale now \(state.lossScale ?? 1)")
      } else {
        log("warning: iteration \(state.iteration): loss \(totalValue) or its gradient is not finite; step skipped (\(state.nonfiniteInARow) in a row)")
      }
    }
    return StepRecord(
      iteration: state.iteration, losses: values, totalLoss: totalValue,
      learningRate: config.solver.baseLearningRate * factor, dataTime: 0, stepTime: 0,
      images: batch.count * (distributed?.worldSize ?? 1),
      epoch: batch.epoch, skipped: !finite, lossScale: scale, allReduceBytes: communication?.bytes,
      communicationHidden: communication?.hiddenShare, stopSignal: stopSignal)
  }

  /// SplitMix64 over (seed, iteration, rank).
  static func workerSeed(_ seed: UInt64, iteration: Int, rank: Int) -> UInt64 {
    var value = seed
    for part in [UInt64(iteration), UInt64(rank)] {
      value = (value ^ part) &+ 0x9E37_79B9_7F4A_7C15
      value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
      value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
      value ^= value >> 31
    }
    return value
  }

  private func gradientNorm(_ parameters: [Tensor]) -> Tensor {
    let grads = parameters.compactMap(\.grad)
    guard !grads.isEmpty else { return Tensor(scalar: Float(0)) }
    return withNoGrad { Tensor.stack(grads.map { $0.norm(2) }).norm(2) }
  }
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// Warns on standard error about images the loader had to skip (a corrupt or missing file), the
/// first few by name; the count goes to `metrics.jsonl` as `skipped_images`.
final class SkipReport: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  private let named = 20

  func report(_ issue: DataIssue) {
    let n = lock.withLock {
      count += 1
      return count
    }
    if n <= named {
      FileHandle.standardError.write(Data("warning: skipped an image: \(issue)\n".utf8))
    } else if n == named + 1 {
      FileHandle.standardError.write(Data("warning: more images skipped; metrics.jsonl counts them (skipped_images)\n".utf8))
    }
  }
}

/// Runs `body` in `precision`: as is for fp32, under bfloat16 autocast for bf16.
public func withPrecision<R>(_ precision: RuntimeSection.Precision, _ body: () throws -> R) rethrows -> R {
  switch precision {
  case .fp32: try body()
  case .bf16: try withAutocast(.bfloat16, body)
  case .fp16: try withAutocast(.float16, body)
  // The INT8 layers run their own kernels (`Module.useInt8Kernels`); the rest is float32.
  case .int8: try body()
  }
}
