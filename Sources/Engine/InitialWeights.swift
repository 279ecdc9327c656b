import Foundation
import NN
import Torch

/// Loads the weights a training run starts from (`model.weights`): every tensor whose name,
/// after `prefix`, and shape match the model; the rest of the model keeps its initialisation.
/// This covers an ImageNet backbone (prefix `backbone.body.`, its `fc.*` left out) and a trained
/// detector fine-tuned to other classes (its class-specific layers left out).
public enum InitialWeights {
  public struct Report: Sendable, Equatable {
    public var loaded: Int
    public var ignored: [String]
    public var mismatched: [String]
  }

  @discardableResult
  public static func load(_ url: URL, prefix: String, into model: Module) throws -> Report {
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw EngineError("model.weights: \(url.path) does not exist")
    }
    let incoming: [String: Tensor]
    do {
      incoming = try readWeightFile(url)
    } catch {
      throw EngineError("model.weights: \(error)")
    }
    let own = model.stateDict()
    var matched: [String: Tensor] = [:]
    var ignored: [String] = []
    var mismatched: [String] = []
    for (name, tensor) in incoming {
      let key = prefix + name
      guard let target = own[key] else {
        ignored.append(name)
        continue
      }
      if target.shape == tensor.shape {
        matched[key] = tensor
      } else {
        mismatched.append("\(key) \(tensor.shape) vs \(target.shape)")
      }
    }
    guard !matched.isEmpty else {
      let example = incoming.keys.sorted().first ?? "none"
      throw EngineError(
        "model.weights: no tensor of \(url.path) fits the model (its first name is '\(example)'; model.weights_prefix is '\(prefix)')")
    }
    try model.load(stateDict: matched, strict: false)
    return Report(loaded: matched.count, ignored: ignored.sorted(), mismatched: mismatched.sorted())
  }
}
