import Foundation
import Torch

/// mmdetection 3.x checkpoint names mapped to SimpleDet's (which are torchvision's), for the
/// ResNet + FPN detectors of its model zoo: Faster R-CNN, Mask R-CNN, RetinaNet, and Cascade
/// (Mask) R-CNN; and for the ResNet-C4 ones (Faster R-CNN C4, TridentNet).
///
/// | mmdetection | SimpleDet |
/// | --- | --- |
/// | `backbone.conv1`, `backbone.bn1`, `backbone.layerN.i.*` | `backbone.body.*` |
/// | `neck.lateral_convs.i.conv` | `backbone.fpn.inner_blocks.i.0` |
/// | `neck.fpn_convs.i.conv` (i < lateral count) | `backbone.fpn.layer_blocks.i.0` |
/// | `neck.fpn_convs.L.conv`, `neck.fpn_convs.L+1.conv` (`add_extra_convs`) | `backbone.fpn.extra_blocks.p6`, `.p7` |
/// | `rpn_head.rpn_conv`, `rpn_cls`, `rpn_reg` | `rpn.head.conv.0.0`, `cls_logits`, `bbox_pred` |
/// | `roi_head.shared_head.layer4.*` (C4 detectors, TridentNet) | `roi_heads.box_head.layer4.*` |
/// | `roi_head.bbox_head.shared_fcs.0`, `.1` | `roi_heads.box_head.fc6`, `fc7` |
/// | `roi_head.bbox_head.fc_cls`, `fc_reg` | `roi_heads.box_predictor.cls_score`, `bbox_pred` |
/// | `roi_head.mask_head.convs.i.conv` | `roi_heads.mask_head.i.0` |
/// | `roi_head.mask_head.upsample`, `conv_logits` | `roi_heads.mask_predictor.conv5_mask`, `mask_fcn_logits` |
/// | `bbox_head.cls_convs.i.conv`, `reg_convs.i.conv` | `head.classification_head.conv.i.0`, `head.regression_head.conv.i.0` |
/// | `bbox_head.retina_cls`, `retina_reg` | `head.classification_head.cls_logits`, `head.regression_head.bbox_reg` |
/// | `roi_head.bbox_head.k.*` (Cascade stage k) | `roi_heads.box_head.k.*`, `roi_heads.box_predictor.k.*`, as above |
/// | `roi_head.mask_head.k.*` (a mask head per stage) | `roi_heads.mask_head.k.*`, `roi_heads.mask_predictor.k.*`, as above |
///
/// Classes: mmdetection's softmax box head puts background last (row `C` of `fc_cls`, C = 80 for
/// COCO) and regresses the C classes only; SimpleDet's has background first and one box per
/// class including background. So `fc_cls` rows become `[C, 0, 1, …, C−1]`, and `fc_reg` gains
/// four zero rows at the front; the mask logits (C outputs) gain a zero output 0. RetinaNet's
/// sigmoid head has C outputs per anchor for labels `0..<C`; SimpleDet's one-stage heads number
/// classes from 1 with output 0 unused (as torchvision's COCO models and SimpleDet's own COCO
/// configs do), so each anchor gains an output 0 with zero weights and bias −1000, whose score
/// is exactly 0 and never passes a score threshold: the model has C + 1 classes and mmdetection's
/// label `l` is SimpleDet's label `l + 1`, the same category. A Cascade R-CNN stage's `fc_reg` is
/// class-agnostic (4 rows, `reg_class_agnostic=True`), as SimpleDet's cascade predictors are, and
/// is kept as it is; its `fc_cls` and the stage's mask logits are treated as above.
///
/// NAS-FPN RetinaNet's neck and `RetinaSepBNHead`: see MMDetectionNames+NASFPN.swift; YOLOv3's
/// Darknet, neck and head: MMDetectionNames+YOLOV3.swift; the EfficientNet backbone and the FPN's
/// batch norms: MMDetectionNames+EfficientNet.swift.
///
/// Batch-norm counters (`num_batches_tracked`) are dropped, as torchvision's loader ignores them.
/// Any other name is an error, as is a shape that contradicts the others (a class-agnostic box
/// regression, mask logits for a different number of classes).
public enum MMDetectionNames {
  /// The bias of the never-firing output 0 added to RetinaNet's classifier.
  public static let unusedClassBias: Float = -1000

  /// `tensors` under SimpleDet's names. `source` names the file in errors.
  public static func converted(_ tensors: [String: Tensor], source: String) throws -> [String: Tensor] {
    func fail(_ name: String, _ problem: String) -> WeightFileError {
      WeightFileError(path: source, message: "mmdetection tensor '\(name)': \(problem)")
    }
    let lateralCount = Set(tensors.keys.compactMap { index(in: $0, after: "neck.lateral_convs.") }).count
    let nasFPN = holdsNASFPN(tensors)  // see MMDetectionNames+NASFPN.swift
    let yolov3Neck = holdsYOLOV3Neck(tensors)  // see MMDetectionNames+YOLOV3.swift
    let efficientNetBlocks = efficientNetBlocks(tensors)  // see MMDetectionNames+EfficientNet.swift

    var out: [String: Tensor] = [:]
    for name in tensors.keys.sorted() {
      let tensor = tensors[name]!
      if name.hasSuffix(".num_batches_tracked") || name.hasPrefix("data_preprocessor.") { continue }
      if try isSharedConvolutionCopy(name, tensor, in: tensors, fail: fail) { continue }
      let known =
        try nasFPNName(for: name, nasFPN: nasFPN) ?? yolov3Name(for: name, yolov3Neck: yolov3Neck)
        ?? efficientNetName(for: name, blocks: efficientNetBlocks, tensors: tensors)
        ?? fpnNormName(for: name, lateralCount: lateralCount) ?? self.name(for: name, lateralCount: lateralCount, fail: fail)
      guard let target = known else {
        throw fail(
          name,
          "not a name this importer knows (ResNet + FPN Faster R-CNN, Mask R-CNN, RetinaNet or Cascade (Mask) R-CNN, NAS-FPN RetinaNet, EfficientNet RetinaNet, or YOLOv3, of mmdetection 3.x)")
      }
      let converted = try yolov3Value(of: name, tensor, fail: fail) ?? value(of: name, tensor, in: tensors, fail: fail)
      guard out.updateValue(converted, forKey: target) == nil else {
        throw fail(name, "maps to '\(target)', which another tensor already gave")
      }
    }
    return out
  }

  /// SimpleDet's name of one mmdetection name, nil when unknown.
  static func name(for name: String, lateralCount: Int, fail: (String, String) -> WeightFileError) throws -> String? {
    if let (unstaged, k) = cascadeStage(of: name) {
      // A cascade stage's head: named as the single head's, with the stage after the module.
      guard let mapped = try self.name(for: unstaged, lateralCount: lateralCount, fail: fail) else { return nil }
      for module in ["roi_heads.box_head.", "roi_heads.box_predictor.", "roi_heads.mask_head.", "roi_heads.mask_predictor."]
      where mapped.hasPrefix(module) {
        return module + "\(k)." + mapped.dropFirst(module.count)
      }
      return nil
    }
    func replacing(_ prefix: String, with replacement: String) -> String? {
      name.hasPrefix(prefix) ? replacement + name.dropFirst(prefix.count) : nil
    }
    if let body = replacing("backbone.", with: "backbone.body.") {
      let rest = name.dropFirst("backbone.".count)
      let stem = ["conv1.", "bn1."].contains { rest.hasPrefix($0) }
      let stage = ["layer1.", "layer2.", "layer3.", "layer4."].contains { rest.hasPrefix($0) }
      return stem || stage ? body : nil
    }
    if let head = replacing("roi_head.shared_head.layer4.", with: "roi_heads.box_head.layer4.") {
      // The C4 detector's box head: the ResNet's stage 5 (mmdetection's `ResLayer` shared head).
      return head
    }
    if let (i, leaf) = indexed(name, "neck.lateral_convs.", ".conv.") {
      return "backbone.fpn.inner_blocks.\(i).0.\(leaf)"
    }
    if let (i, leaf) = indexed(name, "neck.fpn_convs.", ".conv.") {
      if i < lateralCount { return "backbone.fpn.layer_blocks.\(i).0.\(leaf)" }
      switch i - lateralCount {
      case 0: return "backbone.fpn.extra_blocks.p6.\(leaf)"
      case 1: return "backbone.fpn.extra_blocks.p7.\(leaf)"
      default: throw fail(name, "a third extra FPN level; SimpleDet's FPN adds at most P6 and P7")
      }
    }
    let fixed: [String: String] = [
      "rpn_head.rpn_conv.": "rpn.head.conv.0.0.",
      "rpn_head.rpn_cls.": "rpn.head.cls_logits.",
      "rpn_head.rpn_reg.": "rpn.head.bbox_pred.",
      "roi_head.bbox_head.shared_fcs.0.": "roi_heads.box_head.fc6.",
      "roi_head.bbox_head.shared_fcs.1.": "roi_heads.box_head.fc7.",
      "roi_head.bbox_head.fc_cls.": "roi_heads.box_predictor.cls_score.",
      "roi_head.bbox_head.fc_reg.": "roi_heads.box_predictor.bbox_pred.",
      "roi_head.mask_head.upsample.": "roi_heads.mask_predictor.conv5_mask.",
      "roi_head.mask_head.conv_logits.": "roi_heads.mask_predictor.mask_fcn_logits.",
      "bbox_head.retina_cls.": "head.classification_head.cls_logits.",
      "bbox_head.retina_reg.": "head.regression_head.bbox_reg.",
    ]
    for (prefix, replacement) in fixed {
      if let mapped = replacing(prefix, with: replacement), isLeaf(name.dropFirst(prefix.count)) { return mapped }
    }
    if let (i, leaf) = indexed(name, "roi_head.mask_head.convs.", ".conv.") { return "roi_heads.mask_head.\(i).0.\(leaf)" }
    if let (i, leaf) = indexed(name, "bbox_head.cls_convs.", ".conv.") { return "head.classification_head.conv.\(i).0.\(leaf)" }
    if let (i, leaf) = indexed(name, "bbox_head.reg_convs.", ".conv.") { return "head.regression_head.conv.\(i).0.\(leaf)" }
    return nil
  }

  /// The tensor under its new name: classifier rows reordered or padded where the class layouts differ.
  static func value(of name: String, _ tensor: Tensor, in tensors: [String: Tensor], fail: (String, String) -> WeightFileError) throws -> Tensor {
    let leaf = name.split(separator: ".").last.map(String.init) ?? ""
    if let (unstaged, stage) = cascadeStage(of: name) {
      switch unstaged {
      case "roi_head.bbox_head.fc_reg.weight", "roi_head.bbox_head.fc_reg.bias":
        // A cascade stage regresses one box whatever the class, as SimpleDet's cascade does.
        guard tensor.shape[0] == 4 else {
          throw fail(
            name,
            "has \(tensor.shape[0]) rows: class-specific regression (reg_class_agnostic=False); SimpleDet's cascade stages regress class-agnostic (4 rows)")
        }
        return tensor
      case "roi_head.mask_head.conv_logits.weight", "roi_head.mask_head.conv_logits.bias":
        if let classes = softmaxClasses(in: tensors, stage: stage), tensor.shape[0] != classes {
          throw fail(name, "has \(tensor.shape[0]) outputs, but fc_cls of stage \(stage) has \(classes) classes and background")
        }
        return paddedInFront(tensor, rows: 1)
      default:
        // The classifier's rows move as the single head's do.
        return try value(of: unstaged, tensor, in: [:], fail: { _, problem in fail(name, problem) })
      }
    }
    switch name {
    case "roi_head.bbox_head.fc_cls.weight", "roi_head.bbox_head.fc_cls.bias":
      // Background from last to first.
      let rows = tensor.shape[0]
      guard rows >= 2 else { throw fail(name, "has \(rows) rows; a softmax classifier needs background and at least one class") }
      return Tensor.concatenate([tensor.sliced(axis: 0, rows - 1..<rows), tensor.sliced(axis: 0, 0..<rows - 1)], axis: 0)
    case "roi_head.bbox_head.fc_reg.weight", "roi_head.bbox_head.fc_reg.bias":
      let classes = softmaxClasses(in: tensors)
      let rows = tensor.shape[0]
      if let classes, rows != 4 * classes {
        throw fail(
          name,
          rows == 4
            ? "class-agnostic box regression (4 rows, reg_class_agnostic=True); SimpleDet's box predictor regresses per class"
            : "has \(rows) rows, but fc_cls has \(classes) classes and background, so \(4 * classes) were expected")
      }
      return paddedInFront(tensor, rows: 4)
    case "roi_head.mask_head.conv_logits.weight", "roi_head.mask_head.conv_logits.bias":
      if let classes = softmaxClasses(in: tensors), tensor.shape[0] != classes {
        throw fail(name, "has \(tensor.shape[0]) outputs, but fc_cls has \(classes) classes and background")
      }
      return paddedInFront(tensor, rows: 1)
    case "bbox_head.retina_cls.weight", "bbox_head.retina_cls.bias":
      guard let reg = tensors["bbox_head.retina_reg.\(leaf)"], reg.shape[0] % 4 == 0, reg.shape[0] > 0 else {
        throw fail(name, "needs bbox_head.retina_reg.\(leaf) (4 rows per anchor) to tell anchors from classes")
      }
      let anchors = reg.shape[0] / 4
      let rows = tensor.shape[0]
      guard rows % anchors == 0 else {
        throw fail(name, "has \(rows) rows, not a multiple of the \(anchors) anchors per location of retina_reg")
      }
      let perAnchor = tensor.reshaped([anchors, rows / anchors] + tensor.shape.dropFirst())
      let unused = Tensor.zeros([anchors, 1] + tensor.shape.dropFirst(), dtype: tensor.dtype, device: tensor.device)
      if leaf == "bias" {
        withNoGrad { unused.fill(with: Double(unusedClassBias)) }
      }
      return Tensor.concatenate([unused, perAnchor], axis: 1).reshaped([anchors * (rows / anchors + 1)] + tensor.shape.dropFirst())
    default:
      return tensor
    }
  }

  /// The number of object classes of the softmax box classifier (its rows less background), of
  /// cascade stage `stage` when given.
  private static func softmaxClasses(in tensors: [String: Tensor], stage: Int? = nil) -> Int? {
    let prefix = stage.map { "roi_head.bbox_head.\($0).fc_cls." } ?? "roi_head.bbox_head.fc_cls."
    guard let cls = tensors[prefix + "bias"] ?? tensors[prefix + "weight"] else { return nil }
    return cls.shape[0] - 1
  }

  /// For a cascade stage's box or mask head (`roi_head.bbox_head.k.*`, `roi_head.mask_head.k.*`),
  /// the name without the stage (`roi_head.bbox_head.*`) and the stage; nil for other names.
  static func cascadeStage(of name: String) -> (String, Int)? {
    for prefix in ["roi_head.bbox_head.", "roi_head.mask_head."] where name.hasPrefix(prefix) {
      let rest = name.dropFirst(prefix.count)
      guard let dot = rest.firstIndex(of: "."), let k = Int(rest[..<dot]) else { return nil }
      return (prefix + rest[rest.index(after: dot)...], k)
    }
    return nil
  }

  private static func paddedInFront(_ tensor: Tensor, rows: Int) -> Tensor {
    let zeros = Tensor.zeros([rows] + tensor.shape.dropFirst(), dtype: tensor.dtype, device: tensor.device)
    return Tensor.concatenate([zeros, tensor], axis: 0)
  }

  private static func isLeaf<S: StringProtocol>(_ rest: S) -> Bool { rest == "weight" || rest == "bias" }

  /// `(i, leaf)` for `prefix + i + middle + leaf` with `leaf` a weight or bias.
  private static func indexed(_ name: String, _ prefix: String, _ middle: String) -> (Int, String)? {
    guard name.hasPrefix(prefix) else { return nil }
    let rest = name.dropFirst(prefix.count)
    guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), rest[dot...].hasPrefix(middle) else { return nil }
    let leaf = String(rest[dot...].dropFirst(middle.count))
    return isLeaf(leaf) ? (i, leaf) : nil
  }

  private static func index(in name: String, after prefix: String) -> Int? {
    guard name.hasPrefix(prefix) else { return nil }
    return name.dropFirst(prefix.count).split(separator: ".").first.flatMap { Int($0) }
  }
}
