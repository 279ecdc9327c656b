import NN

/// Knowledge distillation (`distill:` in a config): a frozen teacher detector runs on the
/// student's batch in the same step, and its neck features (and a dense head's class scores)
/// become extra training targets. Only the student is saved as the model.
public struct DistillationConfiguration: Codable, Equatable, Sendable {
  /// The trained teacher: its config file (whose `model` section is used) and weights.
  public struct Teacher: Codable, Equatable, Sendable {
    public var config = ""
    public var weights = ""

    public init(config: String = "", weights: String = "") {
      self.config = config
      self.weights = weights
    }
  }

  /// The distillation losses; null turns one off.
  public struct Losses: Codable, Equatable, Sendable {
    /// Feature imitation on every neck level (FitNet, as SimpleDet's distillation head).
    @Nullable public var features: FeatureImitationConfiguration? = FeatureImitationConfiguration()
    /// Class-score distillation for dense heads (RetinaNet, FCOS).
    @Nullable public var logits: LogitDistillationConfiguration? = nil

    public init(features: FeatureImitationConfiguration? = FeatureImitationConfiguration(), logits: LogitDistillationConfiguration? = nil) {
      self.features = features
      self.logits = logits
    }
  }

  public var teacher = Teacher()
  public var losses = Losses()

  public init(teacher: Teacher = Teacher(), losses: Losses = Losses()) {
    self.teacher = teacher
    self.losses = losses
  }
}

/// Feature imitation: a learned 1×1 convolution maps each student level to the teacher's
/// channels, and the mean squared difference to the teacher's map is the loss.
public struct FeatureImitationConfiguration: Codable, Equatable, Sendable {
  /// Where the difference counts: `all` locations, or only `objects` (locations whose cell
  /// centre lies inside a ground-truth box, grown by `object_margin` of its size on each side),
  /// which keeps the background from dominating.
  public enum Region: String, ConfigChoice, Sendable {
    case all
    case objects
  }

  public var weight = 1.0
  public var region = Region.all
  public var objectMargin = 0.5

  public init(weight: Double = 1.0, region: Region = .all, objectMargin: Double = 0.5) {
    self.weight = weight
    self.region = region
    self.objectMargin = objectMargin
  }
}

/// Class-score distillation for sigmoid dense heads: the binary KL divergence from the teacher's
/// per-class probabilities to the student's, both softened by `temperature` and scaled by its
/// square (Hinton et al.), summed over classes and averaged over locations.
public struct LogitDistillationConfiguration: Codable, Equatable, Sendable {
  public var weight = 1.0
  public var temperature = 1.0

  public init(weight: Double = 1.0, temperature: Double = 1.0) {
    self.weight = weight
    self.temperature = temperature
  }
}
