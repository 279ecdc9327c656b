import Data
import Detection
import Foundation
import NN

/// Everything a run needs, as `configs/*.yaml` spells it. The defaults are torchvision's
/// `fasterrcnn_resnet50_fpn` with detectron2's 1× COCO schedule, on the synthetic shapes data (no files needed).
public struct SimpleDetConfig: Codable, Equatable, Sendable {
  public var model = ModelSection()
  public var data = DataSection()
  public var solver = SolverSection()
  public var test = TestSection()
  public var runtime = RuntimeSection()
  /// Knowledge distillation from a trained teacher (`teacher: {config, weights}`, `losses:
  /// {features, logits}`); null trains the model alone.
  @Nullable public var distill: DistillationConfiguration? = nil

  public init() {}
}

/// The detector, as parts (`backbone`, `neck`, `rpn` and `roi_heads` or `head`; see
/// `DetectorConfiguration`) at this level, and the weights training starts from. Each part is a
/// mapping with a `kind` and that kind's own keys; switching a part's `kind` in a file starts
/// from that kind's defaults. The detector's settings read as the section's own
/// (`config.model.classes`).
@dynamicMemberLookup
public struct ModelSection: Codable, Equatable, Sendable {
  public var detector = DetectorConfiguration()
  /// Weights a new training run starts from (.safetensors or a PyTorch .pth state dict): an
  /// ImageNet classifier for the backbone, or a trained detector to fine-tune. Tensors whose
  /// name (after `weightsPrefix`) and shape match the model are loaded; the rest keep their
  /// initialisation. Nil trains from scratch.
  @Nullable public var weights: String? = nil
  /// Put before each name of `weights` (`backbone.body.` for torchvision's ImageNet ResNets).
  public var weightsPrefix = ""

  public init(_ detector: DetectorConfiguration = DetectorConfiguration()) {
    self.detector = detector
  }

  public subscript<Value>(dynamicMember path: WritableKeyPath<DetectorConfiguration, Value>) -> Value {
    get { detector[keyPath: path] }
    set { detector[keyPath: path] = newValue }
  }

  public subscript<Value>(dynamicMember path: KeyPath<DetectorConfiguration, Value>) -> Value {
    detector[keyPath: path]
  }

  private enum CodingKeys: String, CodingKey {
    case weights
    case weightsPrefix = "weights_prefix"
  }

  // Flattened (`model: {backbone: ..., weights: ...}`) so configs need no extra level.
  public init(from decoder: any Decoder) throws {
    detector = try DetectorConfiguration(from: decoder)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    _weights = try c.decode(Nullable<String>.self, forKey: .weights)
    weightsPrefix = try c.decode(String.self, forKey: .weightsPrefix)
  }

  public func encode(to encoder: any Encoder) throws {
    try detector.encode(to: encoder)
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(_weights, forKey: .weights)
    try c.encode(weightsPrefix, forKey: .weightsPrefix)
  }
}

/// Where the training and test images and annotations come from, and the training transforms.
public struct DataSection: Codable, Equatable, Sendable {
  public enum Kind: String, ConfigChoice, Sendable {
    case shapes, coco, voc
    case lightJSON = "light_json"
    case kitti
    case widerFace = "wider_face"
    case crowdhuman
    case cityscapes
    case dota
    case deeplesion
    case kitchen

    /// The reader of this kind's files (nil for the synthetic shapes).
    public var format: DatasetFormat? {
      switch self {
      case .shapes: nil
      case .coco: .coco
      case .voc: .voc
      case .lightJSON: .lightJSON
      case .kitti: .kitti
      case .widerFace: .widerFace
      case .crowdhuman: .crowdHuman
      case .cityscapes: .cityscapes
      case .dota: .dota
      case .deeplesion: .deeplesion
      case .kitchen: .kitchen
      }
    }
  }

  /// One split's files (or, for `shapes`, its size and seed).
  /// Which training images may share a batch.
  public enum BatchGrouping: String, ConfigChoice, Sendable {
    /// Landscape with landscape, portrait with portrait (detectron2's aspect ratio grouping).
    case aspectRatio = "aspect_ratio"
    /// Only images that the detector's resize and padding bring to the same size, so that no
    /// batch is padded and, split over distributed workers, every worker's share costs the same.
    case size
  }

  public struct Split: Codable, Equatable, Sendable {
    /// The COCO or light JSON file, the VOC folder (the one holding `Annotations/`), the KITTI
    /// folder holding `label_2/`, WiderFace's `wider_face_*_bbx_gt.txt` or CrowdHuman's `.odgt`
    /// file (or either dataset's folder, with `image_set` naming the split), the Cityscapes
    /// folder holding `gtFine/`.
    @Nullable public var annotations: String? = nil
    /// The folder that image paths in the annotations are relative to (VOC: nil means `JPEGImages/`).
    @Nullable public var images: String? = nil
    /// VOC's image-set list under `ImageSets/Main/` (nil: every annotation file); KITTI's id list
    /// (`ImageSets/<name>.txt` beside `training/`, or a path; nil: every label file); Cityscapes'
    /// split (nil: `train`).
    @Nullable public var imageSet: String? = nil
    /// `shapes` only: the number of synthetic images.
    public var imageCount = 200
    /// `shapes` only: the seed that draws them (different seeds give disjoint scenes).
    public var seed: UInt64 = 0

    public init(
      annotations: String? = nil, images: String? = nil, imageSet: String? = nil, imageCount: Int = 200, seed: UInt64 = 0
    ) {
      self.annotations = annotations
      self.images = images
      self.imageSet = imageSet
      self.imageCount = imageCount
      self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
      case annotations, images, imageSet = "image_set", imageCount = "image_count", seed
    }

    /// The synthetic shapes dataset this split describes.
    public var shapes: ShapesDataset.Configuration {
      ShapesDataset.Configuration(imageCount: imageCount, seed: seed)
    }
  }

  // Shapes needs no files, so the defaults run anywhere.
  public var kind = Kind.shapes
  public var train = Split(imageCount: 200, seed: 0)
  /// What evaluation runs on; disjoint from `train` (for shapes, through its seed).
  public var test = Split(imageCount: 50, seed: 1_000_003)
  /// Applied to each training sample in order, before the detector's own resize and normalisation.
  public var transforms: [TransformSpec] = []
  /// Threads that decode and augment training images while the model trains (0: on the training thread).
  public var workers = 2
  /// Which training images may share a batch.
  public var batchGrouping = BatchGrouping.aspectRatio
  /// `kitti` only: the classes in label order, each a KITTI type or types joined by `+`
  /// (`[Car+Van, Pedestrian+Person_sitting, Cyclist]`); empty: all eight types.
  public var classes: [String] = []
  /// `crowdhuman` only: the box each person is trained on, `fbox` (full body), `vbox` (visible
  /// region) or `hbox` (head).
  public var crowdhumanBox = CrowdHumanReader.BoxKind.full
  /// `dota` only: the release whose class list the labels are read with, `1.0` (15 classes),
  /// `1.5` (16) or `2.0` (18).
  public var dotaVersion = DOTAReader.Version.v1_0

  public init() {}
}

/// The optimizer and learning-rate schedule (detectron2's `SOLVER` names where they exist).
public struct SolverSection: Codable, Equatable, Sendable {
  public enum Optimizer: String, ConfigChoice, Sendable {
    case sgd, adamw
  }

  public enum Schedule: String, ConfigChoice, Sendable {
    case constant
    case multiStep = "multi_step"
    case cosine
  }

  public var optimizer = Optimizer.sgd
  /// The learning rate for `batchSize` images per iteration, after warm-up.
  public var baseLearningRate = 0.02
  /// SGD's momentum (AdamW uses its own betas).
  public var momentum = 0.9
  public var weightDecay = 1e-4
  /// Weight decay of normalisation layers' parameters.
  public var normWeightDecay = 0.0
  public var biasWeightDecay = 0.0
  public var maxIterations = 90_000
  /// Images per iteration, over all workers.
  public var batchSize = 16
  public var warmupIterations = 1000
  public var warmupFactor = 0.001
  public var warmupMethod = LearningRateSchedule.WarmupMethod.linear
  public var schedule = Schedule.multiStep
  /// Iterations at which `multi_step` multiplies the rate by `gamma`.
  public var steps = [60_000, 80_000]
  public var gamma = 0.1
  /// The factor `cosine` ends at, at `maxIterations`.
  public var cosineFinalFactor = 0.0
  /// Gradients are rescaled to at most this L2 norm; nil leaves them alone.
  @Nullable public var clipGradientNorm: Double? = nil
  /// Train for this many passes over the training split instead of `maxIterations`; `steps` are
  /// then epochs too (warm-up stays in iterations, as in mmdetection). Nil counts iterations.
  @Nullable public var maxEpochs: Int? = nil
  /// Steps in a row whose loss or gradient is NaN or infinite that are skipped before training
  /// stops with an error (the last good checkpoint stays).
  public var maxNonfiniteSteps = 5

  public init() {}

  private enum CodingKeys: String, CodingKey {
    case optimizer
    case baseLearningRate = "base_lr"
    case momentum, weightDecay = "weight_decay", normWeightDecay = "weight_decay_norm"
    case biasWeightDecay = "weight_decay_bias"
    case maxIterations = "max_iter"
    case batchSize = "batch_size"
    case warmupIterations = "warmup_iters"
    case warmupFactor = "warmup_factor"
    case warmupMethod = "warmup_method"
    case schedule = "lr_schedule"
    case steps, gamma
    case cosineFinalFactor = "cosine_final_factor"
    case clipGradientNorm = "clip_grad_norm"
    case maxNonfiniteSteps = "max_nonfinite_steps"
    case maxEpochs = "max_epochs"
  }

  /// The solver with `maxEpochs` and epoch `steps` turned into iterations, for a training split
  /// of `iterationsPerEpoch` batches; unchanged when it counts iterations.
  public func inIterations(iterationsPerEpoch: Int) -> SolverSection {
    guard let maxEpochs else { return self }
    var resolved = self
    resolved.maxIterations = maxEpochs * iterationsPerEpoch
    resolved.steps = steps.map { $0 * iterationsPerEpoch }
    resolved.maxEpochs = nil
    return resolved
  }

  /// The warm-up and decay as NN's schedule.
  public var learningRateSchedule: LearningRateSchedule {
    let decay: LearningRateSchedule.Decay =
      switch schedule {
      case .constant: .constant
      case .multiStep: .multiStep(milestones: steps, gamma: gamma)
      case .cosine: .cosine(maxIterations: maxIterations, finalFactor: cosineFinalFactor)
      }
    return LearningRateSchedule(
      warmupMethod: warmupMethod, warmupIterations: warmupIterations, warmupFactor: warmupFactor, decay: decay)
  }

  /// `model`'s parameters split into decayed weights, normalisation parameters and biases.
  public func parameterGroups(for model: Module) -> [ParameterGroup] {
    ParameterGroup.standard(
      for: model, learningRate: baseLearningRate, weightDecay: weightDecay, normWeightDecay: normWeightDecay,
      biasWeightDecay: biasWeightDecay)
  }
}

/// Inference settings for evaluation and prediction; they replace the model's values.
public struct TestSection: Codable, Equatable, Sendable {
  /// Detections scoring below this are dropped (low for COCO AP, higher for pictures); nil: the
  /// model's own (`model.roi_heads.score_threshold`, or `model.score_threshold` for the
  /// one-stage detectors), as torchvision's models carry theirs.
  @Nullable public var scoreThreshold: Double? = nil
  /// nil: the model's own `detections_per_image`.
  @Nullable public var detectionsPerImage: Int? = nil
  /// The shorter side images are resized to for testing (nil: the model's `transform.min_size`).
  @Nullable public var minSize: Int? = nil
  /// The longer side's limit for testing (nil: the model's `transform.max_size`).
  @Nullable public var maxSize: Int? = nil
  /// Images per inference batch.
  public var batchSize = 2
  /// How overlapping detections of a class are reduced (`{kind: standard | soft | weighted, ...}`);
  /// null: each head's own greedy NMS at its own `nms_threshold`.
  @Nullable public var nms: NMSMethod? = nil
  /// Test-time augmentation (`{scales: [...], flip: true, max_size: null, merge: null}`): each
  /// image runs at every scale and flipped, and the passes' detections are merged; null: one
  /// pass at `min_size`.
  @Nullable public var augment: TestAugmentation? = nil

  public init() {}

  private enum CodingKeys: String, CodingKey {
    case scoreThreshold = "score_threshold"
    case detectionsPerImage = "detections_per_image"
    case minSize = "min_size", maxSize = "max_size"
    case batchSize = "batch_size"
    case nms, augment
  }
}

/// How a run executes and what it writes.
public struct RuntimeSection: Codable, Equatable, Sendable {
  public enum Precision: String, ConfigChoice, Sendable {
    /// Everything in float32.
    case fp32
    /// bfloat16 autocast: convolutions and matrix products in bfloat16, weights, losses and
    /// updates in float32 (no loss scaling needed). Fast on CPUs with AVX-512 BF16 or AMX.
    case bf16
    /// float16 autocast, as bf16 but with float16's narrower range, so training scales the loss
    /// (`loss_scale`). The mode GPU users want; correct, not fast, on CPUs.
    case fp16
    /// Inference only: the layers `model.quantize` names run FBGEMM's INT8 kernels with the
    /// scales learned in quantization-aware training (or calibrated), the rest in float32.
    case int8
  }

  /// How float16 training scales its loss.
  public enum LossScale: Equatable, Sendable, Codable {
    /// PyTorch's GradScaler: from 2^16, halved on a non-finite gradient (the step skipped),
    /// doubled after 2,000 finite steps.
    case dynamic
    /// A fixed scale (the SimpleDet paper's static loss scaling).
    case fixed(Double)

    public init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let value = try? container.decode(Double.self) {
        self = .fixed(value)
      } else if let name = try? container.decode(String.self), name == "dynamic" {
        self = .dynamic
      } else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected dynamic or a number")
      }
    }

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.singleValueContainer()
      switch self {
      case .dynamic: try container.encode("dynamic")
      case .fixed(let value): try container.encode(value)
      }
    }
  }

  /// libtorch intra-op threads.
  public var threads = 2
  /// The arithmetic of training's forward pass and of evaluation and prediction.
  public var precision = Precision.fp32
  /// The loss scaling of `fp16` training (fp32 and bf16 do not scale).
  public var lossScale = LossScale.dynamic
  /// Seeds data order, augmentation and sampling (the model's initialisation has `model.seed`).
  public var seed: UInt64 = 0
  /// Iterations between log lines and `metrics.jsonl` records.
  public var logPeriod = 20
  /// Iterations between checkpoints (0: only at the end).
  public var checkpointPeriod = 5000
  /// Iterations between evaluations on the test split (0: only at the end).
  public var evalPeriod = 0
  /// Periodic checkpoints kept (older ones are deleted; the final weights always stay).
  public var checkpointsKept = 3
  /// The run folder when `simpledet train` is given no `--output`.
  public var outputDirectory = "output"
  /// Also write a TensorBoard event file in the run folder (the logged numbers as scalars, and
  /// pictures of the detections on the first test images at each evaluation).
  public var tensorboard = true
  /// Data-parallel training across processes (`simpledet train --nproc-per-node`).
  public var distributed = DistributedSection()

  public init() {}

  private enum CodingKeys: String, CodingKey {
    case threads, precision, seed, tensorboard, distributed
    case lossScale = "loss_scale"
    case logPeriod = "log_period"
    case checkpointPeriod = "checkpoint_period"
    case evalPeriod = "eval_period"
    case checkpointsKept = "checkpoints_kept"
    case outputDirectory = "output_dir"
  }
}

/// How the processes of a distributed run average their gradients and wait for one another.
public struct DistributedSection: Codable, Equatable, Sendable {
  public enum Compression: String, ConfigChoice, Sendable {
    /// Gradient buckets travel as float32.
    case none
    /// As float16: half the bytes (each bucket is divided by the world size first, so sums stay in range).
    case fp16
    /// As bfloat16: half the bytes, float32's range, fewer mantissa bits.
    case bf16
  }

  public var gradientCompression = Compression.none
  /// Size of the gradient buckets whose all-reduce starts as soon as their gradients are ready
  /// (the first bucket is 1 MiB, so communication starts early).
  public var bucketMB = 25.0
  /// Seconds any process waits in a collective, or for the others to join, before the run
  /// stops with an error (a process died or hangs).
  public var timeout = 60.0
  /// Look for parameters a step does not reach (a branch the model skips), so that their
  /// gradient buckets do not wait for gradients that never come. Costs a walk of the autograd
  /// graph per step; turn it off for models that use every parameter in every step.
  public var findUnusedParameters = true

  public init() {}

  private enum CodingKeys: String, CodingKey {
    case timeout
    case gradientCompression = "gradient_compression"
    case bucketMB = "bucket_mb"
    case findUnusedParameters = "find_unused_parameters"
  }
}

extension SimpleDetConfig {
  /// What evaluation and prediction use: the `test` section over the model's own values.
  public var inferenceSettings: InferenceSettings {
    var settings = InferenceSettings(model.detector)
    if let threshold = test.scoreThreshold { settings.scoreThreshold = threshold }
    if let count = test.detectionsPerImage { settings.detectionsPerImage = count }
    if let minSize = test.minSize { settings.minSize = minSize }
    if let maxSize = test.maxSize { settings.maxSize = maxSize }
    settings.nms = test.nms
    settings.augment = test.augment
    return settings
  }
}
