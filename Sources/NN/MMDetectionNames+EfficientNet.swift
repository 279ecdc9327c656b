import Torch

/// mmdetection's EfficientNet backbone (from mmpretrain; `retinanet_effb3_fpn_8xb4-crop896-1x_coco`)
/// under torchvision's `efficientnet_b*` names, which SimpleDet's `efficientnet` backbone has, and
/// the batch norms of mmdetection's FPN with a `norm_cfg`.
///
/// | mmdetection | SimpleDet |
/// | --- | --- |
/// | `backbone.layers.0.conv`, `.bn` (stem) | `backbone.body.features.0.0`, `.1` |
/// | `backbone.layers.i.j.expand_conv.{conv,bn}` | `backbone.body.features.s.m.block.0.{0,1}` |
/// | `backbone.layers.i.j.depthwise_conv.{conv,bn}` | `….block.k.{0,1}` (k = 1 after an expansion, else 0) |
/// | `backbone.layers.i.j.se.conv1.conv`, `se.conv2.conv` | `….block.k+1.fc1`, `fc2` |
/// | `backbone.layers.i.j.linear_conv.{conv,bn}` | `….block.k+2.{0,1}` |
/// | `neck.lateral_convs.i.bn`, `neck.fpn_convs.i.bn` | `backbone.fpn.inner_blocks.i.1`, `layer_blocks.i.1` |
/// | `neck.fpn_convs.L.bn`, `L+1.bn` (extra levels) | `backbone.fpn.extra_blocks.p6_norm`, `p7_norm` |
///
/// mmdetection groups the blocks differently from torchvision: its layer 4 holds torchvision's
/// stages 4 and 5 (the 112-channel stage strides 1 and is merged into the one before), its layer
/// 5 stages 6 and 7. Torchvision's stage s of block m is found by walking mmdetection's blocks in
/// order and starting a new stage wherever a block's output channels differ from the previous
/// block's (every EfficientNet stage changes the width).
extension MMDetectionNames {
  /// Torchvision's (stage, block in stage) for each of mmdetection's `backbone.layers.i.j` blocks.
  static func efficientNetBlocks(_ tensors: [String: Tensor]) -> [String: (stage: Int, block: Int)] {
    let suffix = ".linear_conv.conv.weight"
    var blocks: [(layer: Int, block: Int, channels: Int)] = []
    for (name, tensor) in tensors where name.hasPrefix("backbone.layers.") && name.hasSuffix(suffix) {
      let parts = name.dropFirst("backbone.layers.".count).dropLast(suffix.count).split(separator: ".")
      guard parts.count == 2, let i = Int(parts[0]), let j = Int(parts[1]) else { continue }
      blocks.append((i, j, tensor.shape[0]))
    }
    blocks.sort { ($0.layer, $0.block) < ($1.layer, $1.block) }
    var out: [String: (stage: Int, block: Int)] = [:]
    var stage = 0
    var inStage = 0
    var previous: Int? = nil
    for b in blocks {
      if b.channels != previous {
        stage += 1
        inStage = 0
      }
      out["\(b.layer).\(b.block)"] = (stage, inStage)
      inStage += 1
      previous = b.channels
    }
    return out
  }

  /// SimpleDet's name for an mmdetection EfficientNet tensor; nil for other names.
  static func efficientNetName(for name: String, blocks: [String: (stage: Int, block: Int)], tensors: [String: Tensor]) -> String? {
    guard name.hasPrefix("backbone.layers.") else { return nil }
    let parts = name.dropFirst("backbone.layers.".count).split(separator: ".").map(String.init)
    func normOrConv(_ module: String, _ leaf: String) -> String? {
      switch module {
      case "conv" where leaf == "weight": "0.weight"
      case "bn" where normLeaves.contains(leaf): "1.\(leaf)"
      default: nil
      }
    }
    if parts.count == 3, parts[0] == "0", let leaf = normOrConv(parts[1], parts[2]) {
      return "backbone.body.features.0.\(leaf)"
    }
    guard parts.count >= 4, let (stage, block) = blocks["\(parts[0]).\(parts[1])"] else { return nil }
    let expands = tensors["backbone.layers.\(parts[0]).\(parts[1]).expand_conv.conv.weight"] != nil
    let first = expands ? 1 : 0
    let prefix = "backbone.body.features.\(stage).\(block).block."
    switch (parts[2], parts.count) {
    case ("expand_conv", 5) where expands: return normOrConv(parts[3], parts[4]).map { prefix + "0." + $0 }
    case ("depthwise_conv", 5): return normOrConv(parts[3], parts[4]).map { prefix + "\(first)." + $0 }
    case ("linear_conv", 5): return normOrConv(parts[3], parts[4]).map { prefix + "\(first + 2)." + $0 }
    case ("se", 6) where parts[4] == "conv" && ["weight", "bias"].contains(parts[5]):
      let fc = ["conv1": "fc1", "conv2": "fc2"][parts[3]]
      return fc.map { prefix + "\(first + 1).\($0).\(parts[5])" }
    default: return nil
    }
  }

  /// SimpleDet's name for a batch norm of mmdetection's FPN (`neck.lateral_convs.i.bn.*`,
  /// `neck.fpn_convs.i.bn.*`); nil for other names.
  static func fpnNormName(for name: String, lateralCount: Int) -> String? {
    let parts = name.split(separator: ".").map(String.init)
    // Without lateral convolutions there is no FPN to place them in.
    guard lateralCount > 0, parts.count == 5, parts[0] == "neck", parts[3] == "bn", let i = Int(parts[2]), normLeaves.contains(parts[4])
    else {
      return nil
    }
    switch parts[1] {
    case "lateral_convs": return "backbone.fpn.inner_blocks.\(i).1.\(parts[4])"
    case "fpn_convs" where i < lateralCount: return "backbone.fpn.layer_blocks.\(i).1.\(parts[4])"
    case "fpn_convs" where i == lateralCount: return "backbone.fpn.extra_blocks.p6_norm.\(parts[4])"
    case "fpn_convs" where i == lateralCount + 1: return "backbone.fpn.extra_blocks.p7_norm.\(parts[4])"
    default: return nil
    }
  }

  private static let normLeaves: Set<String> = ["weight", "bias", "running_mean", "running_var"]
}
