import Torch

/// mmdetection's NAS-FPN RetinaNet (`retinanet_r50_nasfpn_crop640-50e_coco`): the `NASFPN` neck
/// and the `RetinaSepBNHead`, whose four tower convolutions per branch are shared by the pyramid
/// levels while each level has its own batch norms.
///
/// | mmdetection | SimpleDet |
/// | --- | --- |
/// | `neck.lateral_convs.*`, `neck.extra_downsamples.*`, `neck.fpn_stages.*` (NAS-FPN) | `backbone.fpn.*`, the same names |
/// | `bbox_head.cls_convs.0.j.conv` (shared by all levels) | `head.classification_head.conv.j.0` |
/// | `bbox_head.cls_convs.L.j.bn` (level L's own) | `head.classification_head.conv.j.1.L` |
/// | `bbox_head.reg_convs.*` | `head.regression_head.conv.*`, as above |
///
/// mmdetection's state dict holds the shared convolution once per level (`cls_convs.L.j.conv`,
/// the same tensor under every L): the copies at levels L > 0 are checked to equal level 0's and
/// then dropped; a copy that differs is an error, since the model cannot hold it.
extension MMDetectionNames {
  /// Whether `tensors` hold a NAS-FPN neck (`neck.fpn_stages.*`), whose names SimpleDet keeps.
  static func holdsNASFPN(_ tensors: [String: Tensor]) -> Bool {
    tensors.keys.contains { $0.hasPrefix("neck.fpn_stages.") }
  }

  /// SimpleDet's name for a NAS-FPN neck tensor (when `nasFPN`) or a `RetinaSepBNHead` tower
  /// tensor at level 0 or a level's norm; nil for any other name.
  static func nasFPNName(for name: String, nasFPN: Bool) -> String? {
    if nasFPN, name.hasPrefix("neck.") {
      let rest = name.dropFirst("neck.".count)
      return ["lateral_convs.", "extra_downsamples.", "fpn_stages."].contains { rest.hasPrefix($0) } ? "backbone.fpn." + rest : nil
    }
    guard let tower = separateNormTower(name) else { return nil }
    switch tower.module {
    case "conv" where tower.level == 0: return "\(tower.target).conv.\(tower.block).0.\(tower.leaf)"
    case "bn": return "\(tower.target).conv.\(tower.block).1.\(tower.level).\(tower.leaf)"
    default: return nil
    }
  }

  /// Whether `name` is a level's copy of a `RetinaSepBNHead` convolution shared with level 0,
  /// which the import drops; throws when it differs from level 0's.
  static func isSharedConvolutionCopy(
    _ name: String, _ tensor: Tensor, in tensors: [String: Tensor], fail: (String, String) -> WeightFileError
  ) throws -> Bool {
    guard let tower = separateNormTower(name), tower.module == "conv", tower.level > 0 else { return false }
    let original = "bbox_head.\(tower.branch).0.\(tower.block).conv.\(tower.leaf)"
    guard let first = tensors[original] else {
      throw fail(name, "a level-\(tower.level) copy of a shared tower convolution, but '\(original)' (level 0) is missing")
    }
    guard first.shape == tensor.shape, (first .== tensor).all().boolValue() else {
      throw fail(
        name,
        "differs from '\(original)': RetinaSepBNHead shares each tower convolution across the levels, so every level's copy must equal level 0's")
    }
    return true
  }

  /// The parts of `bbox_head.{cls,reg}_convs.L.j.{conv,bn}.leaf`; nil for other names (RetinaHead's
  /// `bbox_head.cls_convs.j.conv.leaf` included).
  private static func separateNormTower(_ name: String)
    -> (branch: String, target: String, level: Int, block: Int, module: String, leaf: String)?
  {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 6, parts[0] == "bbox_head", let level = Int(parts[2]), let block = Int(parts[3]) else { return nil }
    let targets = ["cls_convs": "head.classification_head", "reg_convs": "head.regression_head"]
    guard let target = targets[parts[1]] else { return nil }
    let leaves: Set<String> = parts[4] == "bn" ? ["weight", "bias", "running_mean", "running_var"] : ["weight", "bias"]
    guard ["conv", "bn"].contains(parts[4]), leaves.contains(parts[5]) else { return nil }
    return (parts[1], target, level, block, parts[4], parts[5])
  }
}
