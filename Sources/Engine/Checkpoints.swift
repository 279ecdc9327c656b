import Foundation
import NN
import Torch

/// Where training is, beyond weights and optimizer state: enough for a resumed run to continue
/// exactly as an uninterrupted one would.
public struct TrainerState: Codable, Equatable, Sendable {
  /// Iterations completed.
  public var iteration = 0
  /// The loader position of the next batch.
  public var epoch = 0
  public var batchInEpoch = 0
  /// The detector's random generator (training-size draws and samplers), base64.
  public var randomState = ""
  /// Steps skipped because the loss or gradient was not finite: in a row, and in all.
  public var nonfiniteInARow = 0
  public var nonfiniteSkipped = 0
  /// float16 training's loss scale and the finite steps since it last changed (nil otherwise).
  public var lossScale: Double?
  public var lossScaleGrowthTracker: Int?

  public init() {}

  private enum CodingKeys: String, CodingKey {
    case iteration, epoch
    case batchInEpoch = "batch_in_epoch"
    case randomState = "random_state"
    case nonfiniteInARow = "nonfinite_in_a_row"
    case nonfiniteSkipped = "nonfinite_skipped"
    case lossScale = "loss_scale"
    case lossScaleGrowthTracker = "loss_scale_growth_tracker"
  }
}

/// A run folder's `checkpoints/`: `NNNNNNN.safetensors` holds the model's weights after NNNNNNN
/// iterations and `NNNNNNN.state.safetensors` beside it the optimizer state and the trainer state.
/// Both are written atomically, weights first, so a state file marks a complete checkpoint: a
/// process killed at any moment leaves either the previous checkpoints or a complete new one.
public struct CheckpointStore: Sendable {
  public let folder: URL

  static let trainerKey = "simpledet.trainer"
  static let optimizerKey = "simpledet.optimizer.scalars"

  public init(runDirectory: URL) {
    folder = runDirectory.appendingPathComponent("checkpoints", isDirectory: true)
  }

  public static func name(iteration: Int) -> String {
    let digits = String(iteration)
    return String(repeating: "0", count: max(0, 7 - digits.count)) + digits
  }

  public func weightsURL(iteration: Int) -> URL {
    folder.appendingPathComponent(Self.name(iteration: iteration) + ".safetensors")
  }

  public func stateURL(iteration: Int) -> URL {
    folder.appendingPathComponent(Self.name(iteration: iteration) + ".state.safetensors")
  }

  /// What trains beside the model without being part of it (distillation's adaptation layers).
  public func companionURL(iteration: Int) -> URL {
    folder.appendingPathComponent(Self.name(iteration: iteration) + ".distiller.safetensors")
  }

  /// Iterations with a complete checkpoint, ascending.
  public func iterations() -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    let complete = Set(names)
    return names.compactMap { name -> Int? in
      guard name.hasSuffix(".state.safetensors"), let n = Int(name.dropLast(".state.safetensors".count)) else { return nil }
      return complete.contains(Self.name(iteration: n) + ".safetensors") ? n : nil
    }.sorted()
  }

  public var latest: Int? { iterations().last }

  /// Writes the checkpoint after `state.iteration` iterations.
  public func save(model: Module, optimizer: any Optimizer, state: TrainerState, companion: Module? = nil) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    // The companion goes first: a checkpoint counts as complete once its weights and state exist.
    try companion?.saveWeights(to: companionURL(iteration: state.iteration), metadata: ["iteration": String(state.iteration)])
    try model.saveWeights(to: weightsURL(iteration: state.iteration), metadata: ["iteration": String(state.iteration)])
    let optimizerState = optimizer.state()
    let scalars = try JSONEncoder().encode(optimizerState.scalars)
    let trainer = try JSONEncoder().encode(state)
    try SafeTensors.write(
      optimizerState.tensors,
      metadata: [
        Self.optimizerKey: String(decoding: scalars, as: UTF8.self), Self.trainerKey: String(decoding: trainer, as: UTF8.self),
      ],
      to: stateURL(iteration: state.iteration))
  }

  /// Loads the checkpoint after `iteration` iterations into `model` and `optimizer`.
  public func restore(iteration: Int, model: Module, optimizer: any Optimizer, companion: Module? = nil) throws -> TrainerState {
    let weights = weightsURL(iteration: iteration)
    let stateFile = stateURL(iteration: iteration)
    do {
      try model.loadWeights(contentsOf: weights)
    } catch {
      throw EngineError("cannot resume from \(weights.path): \(error)")
    }
    if let companion {
      let file = companionURL(iteration: iteration)
      do {
        try companion.loadWeights(contentsOf: file)
      } catch {
        throw EngineError("cannot resume from \(file.path) (the distillation layers of a distill: run): \(error)")
      }
    }
    do {
      let (tensors, metadata) = try SafeTensors.readWithMetadata(contentsOf: stateFile)
      guard let scalarsText = metadata[Self.optimizerKey], let trainerText = metadata[Self.trainerKey] else {
        throw EngineError("no optimizer or trainer state in its metadata")
      }
      let scalars = try JSONDecoder().decode([String: Double].self, from: Data(scalarsText.utf8))
      let state = try JSONDecoder().decode(TrainerState.self, from: Data(trainerText.utf8))
      guard state.iteration == iteration else {
        throw EngineError("it records iteration \(state.iteration), not \(iteration)")
      }
      try optimizer.load(state: OptimizerState(tensors: tensors, scalars: scalars))
      return state
    } catch {
      throw EngineError("cannot resume from \(stateFile.path): \(error)")
    }
  }

  /// Deletes periodic checkpoints beyond the newest `keep`, never `protected`.
  public func prune(keep: Int, protecting protected: Set<Int> = []) {
    let all = iterations()
    for iteration in all.dropLast(keep) where !protected.contains(iteration) {
      try? FileManager.default.removeItem(at: stateURL(iteration: iteration))
      try? FileManager.default.removeItem(at: weightsURL(iteration: iteration))
      try? FileManager.default.removeItem(at: companionURL(iteration: iteration))
    }
  }
}
