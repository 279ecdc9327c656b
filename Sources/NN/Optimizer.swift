import Torch

/// Parameters that share hyperparameters inside an optimizer (PyTorch's param groups).
public struct ParameterGroup {
  public var parameters: [Tensor]
  /// The rate the schedule scales: `learningRate = baseLearningRate × schedule factor`.
  public var baseLearningRate: Double
  /// The rate used by the next `step()`.
  public var learningRate: Double
  public var weightDecay: Double

  public init(parameters: [Tensor], learningRate: Double, weightDecay: Double = 0) {
    self.parameters = parameters
    self.baseLearningRate = learningRate
    self.learningRate = learningRate
    self.weightDecay = weightDecay
  }

  /// The usual detection split: one group with weight decay, and one for the normalisation
  /// layers' parameters and for biases, which by default get none (decaying them only shrinks
  /// useful scales and offsets).
  public static func standard(
    for model: Module, learningRate: Double, weightDecay: Double, normWeightDecay: Double = 0,
    biasWeightDecay: Double = 0
  ) -> [ParameterGroup] {
    var decayed: [Tensor] = []
    var norms: [Tensor] = []
    var biases: [Tensor] = []
    var seen = Set<ObjectIdentifier>()
    for (_, module) in model.namedModules() {
      let isNorm = module is BatchNorm2d || module is SyncBatchNorm2d || module is GroupNorm || module is LayerNorm
      for (name, p) in module.localParameters where p.requiresGrad && seen.insert(ObjectIdentifier(p)).inserted {
        if isNorm {
          norms.append(p)
        } else if name == "bias" {
          biases.append(p)
        } else {
          decayed.append(p)
        }
      }
    }
    var groups = [ParameterGroup(parameters: decayed, learningRate: learningRate, weightDecay: weightDecay)]
    if normWeightDecay == biasWeightDecay {
      groups.append(ParameterGroup(parameters: norms + biases, learningRate: learningRate, weightDecay: biasWeightDecay))
    } else {
      groups.append(ParameterGroup(parameters: norms, learningRate: learningRate, weightDecay: normWeightDecay))
      groups.append(ParameterGroup(parameters: biases, learningRate: learningRate, weightDecay: biasWeightDecay))
    }
    return groups.filter { !$0.parameters.isEmpty }
  }
}

/// An optimizer's saved state: per-parameter tensors keyed `"<index>.<name>"` (parameters are
/// numbered across groups in order) and numbers keyed by name.
public struct OptimizerState {
  public var tensors: [String: Tensor]
  public var scalars: [String: Double]

  public init(tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
    self.tensors = tensors
    self.scalars = scalars
  }
}

/// What is wrong with an optimizer state given to `load(state:)`.
public struct OptimizerStateError: Error, CustomStringConvertible {
  public let message: String
  public var description: String { "optimizer state does not fit: \(message)" }
}

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
  var groups: [ParameterGroup] { get set }
  /// Applies one update to every parameter that has a gradient.
  func step()
  func state() -> OptimizerState
  func load(state: OptimizerState) throws
}

extension Optimizer {
  /// Forgets every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
  public func zeroGradients() {
    for group in groups { for p in group.parameters { p.zeroGradient() } }
  }

  /// Sets every group's rate to its base rate times `factor` (what schedules call each step).
  public func scaleLearningRate(by factor: Double) {
    for i in groups.indices { groups[i].learningRate = groups[i].baseLearningRate * factor }
  }

  /// Every parameter, numbered across groups as state keys number them.
  var allParameters: [Tensor] { groups.flatMap(\.parameters) }

  func groupScalars() -> [String: Double] {
    var scalars: [String: Double] = [:]
    for (i, g) in groups.enumerated() {
      scalars["group.\(i).lr"] = g.learningRate
      scalars["group.\(i).base_lr"] = g.baseLearningRate
      scalars["group.\(i).weight_decay"] = g.weightDecay
    }
    return scalars
  }

  func loadGroupScalars(_ scalars: [String: Double]) throws {
    for i in groups.indices {
      guard let lr = scalars["group.\(i).lr"], let base = scalars["group.\(i).base_lr"] else {
        throw OptimizerStateError(message: "no learning rate saved for parameter group \(i)")
      }
      groups[i].learningRate = lr
      groups[i].baseLearningRate = base
      if let wd = scalars["group.\(i).weight_decay"] { groups[i].weightDecay = wd }
    }
  }

  /// Copies a saved per-parameter tensor into place, checking that it fits.
  func restore(_ key: String, from state: OptimizerState, like parameter: Tensor) throws -> Tensor? {
    guard let saved = state.tensors[key] else { return nil }
    guard saved.shape == parameter.shape else {
      throw OptimizerStateError(message: "\(key) has shape \(saved.shape) but its parameter has \(parameter.shape)")
    }
    return saved.to(parameter.device, parameter.dtype).clone()
  }
}

/// Stochastic gradient descent with momentum, optional Nesterov momentum and L2 weight decay,
/// with PyTorch's update rule, so hyperparameters carry over unchanged.
public final class SGD: Optimizer {
  public var groups: [ParameterGroup]
  public let momentum: Double
  public let dampening: Double
  public let nesterov: Bool
  private var momentumBuffers: [ObjectIdentifier: Tensor] = [:]

  public init(groups: [ParameterGroup], momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false) {
    precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum needs momentum > 0 and no dampening")
    self.groups = groups
    self.momentum = momentum
    self.dampening = dampening
    self.nesterov = nesterov
  }

  public convenience init(
    parameters: [Tensor], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false
  ) {
    self.init(
      groups: [ParameterGroup(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)],
      momentum: momentum, nesterov: nesterov)
  }

  public func step() {
    withNoGrad {
      for group in groups {
        for p in group.parameters {
          guard let grad = p.grad else { continue }
          var d = grad
          if group.weightDecay != 0 {
            d = grad + group.weightDecay * p
          }
          if momentum != 0 {
            let id = ObjectIdentifier(p)
            if let buffer = momentumBuffers[id] {
              buffer.multiply(by: momentum)
              buffer.add(d, scaledBy: 1 - dampening)
              d = nesterov ? d + momentum * buffer : buffer
            } else {
              let buffer = d.detached().clone()
              momentumBuffers[id] = buffer
              d = nesterov ? d + momentum * buffer : buffer
            }
          }
          p.add(d, scaledBy: -group.learningRate)
        }
      }
    }
  }

  public func state() -> OptimizerState {
    var state = OptimizerState(scalars: groupScalars())
    for (i, p) in allParameters.enumerated() {
      if let buffer = momentumBuffers[ObjectIdentifier(p)] { state.tensors["\(i).momentum_buffer"] = buffer }
    }
    return state
  }

  public func load(state: OptimizerState) throws {
    try loadGroupScalars(state.scalars)
    var buffers: [ObjectIdentifier: Tensor] = [:]
    for (i, p) in allParameters.enumerated() {
      if let buffer = try restore("\(i).momentum_buffer", from: state, like: p) { buffers[ObjectIdentifier(p)] = buffer }
    }
    momentumBuffers = buffers
  }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's `AdamW` update rule.
public final class AdamW: Optimizer {
  public var groups: [ParameterGroup]
  public let beta1: Double
  public let beta2: Double
  public let epsilon: Double
  private var moments: [ObjectIdentifier: (step: Int, mean: Tensor, variance: Tensor)] = [:]

  public init(groups: [ParameterGroup], betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8) {
    self.groups = groups
    self.beta1 = betas.0
    self.beta2 = betas.1
    self.epsilon = epsilon
  }

  public convenience init(parameters: [Tensor], learningRate: Double = 1e-3, weightDecay: Double = 1e-2) {
    self.init(groups: [ParameterGroup(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)])
  }

  public func step() {
    withNoGrad {
      for group in groups {
        let lr = group.learningRate
        for p in group.parameters {
          guard let grad = p.grad else { continue }
          let id = ObjectIdentifier(p)
          var entry = moments[id] ?? (0, p.zerosLike(), p.zerosLike())
          entry.step += 1
          if group.weightDecay != 0 { p.multiply(by: 1 - lr * group.weightDecay) }
          entry.mean.moveTowards(grad, weight: 1 - beta1)
          entry.variance.multiply(by: beta2)
          entry.variance.addProduct(grad, grad, scaledBy: 1 - beta2)
          let correction1 = 1 - Foundation.pow(beta1, Double(entry.step))
          let correction2 = 1 - Foundation.pow(beta2, Double(entry.step))
          let denominator = entry.variance.sqrt() / correction2.squareRoot() + epsilon
          p.addQuotient(entry.mean, denominator, scaledBy: -lr / correction1)
          moments[id] = entry
        }
      }
    }
  }

  public func state() -> OptimizerState {
    var state = OptimizerState(scalars: groupScalars())
    for (i, p) in allParameters.enumerated() {
      guard let entry = moments[ObjectIdentifier(p)] else { continue }
      state.tensors["\(i).exp_avg"] = entry.mean
      state.tensors["\(i).exp_avg_sq"] = entry.variance
      state.scalars["\(i).step"] = Double(entry.step)
    }
    return state
  }

  public func load(state: OptimizerState) throws {
    try loadGroupScalars(state.scalars)
    var restored: [ObjectIdentifier: (step: Int, mean: Tensor, variance: Tensor)] = [:]
    for (i, p) in allParameters.enumerated() {
      guard let mean = try restore("\(i).exp_avg", from: state, like: p) else { continue }
      guard let variance = try restore("\(i).exp_avg_sq", from: state, like: p), let step = state.scalars["\(i).step"]
      else {
        throw OptimizerStateError(message: "parameter \(i) has exp_avg but no exp_avg_sq or step")
      }
      restored[ObjectIdentifier(p)] = (Int(step), mean, variance)
    }
    moments = restored
  }
}

import Foundation
