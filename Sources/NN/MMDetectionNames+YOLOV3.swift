import Torch

/// mmdetection's YOLOv3 (`yolov3_d53_*`): the `Darknet` backbone, `YOLOV3Neck` and `YOLOV3Head`,
/// whose modules SimpleDet names as mmdetection does, so only the prefixes change.
///
/// | mmdetection | SimpleDet |
/// | --- | --- |
/// | `backbone.conv1.*`, `backbone.conv_res_blockN.*` | `backbone.body.*`, the same names |
/// | `neck.detectN.*`, `neck.convN.*` (YOLOv3 neck, told by its `neck.detect1`) | `backbone.fpn.*`, the same names |
/// | `bbox_head.convs_bridge.i.*`, `bbox_head.convs_pred.i.*` | `head.convs_bridge.i.*`, `head.convs_pred.i.*` |
///
/// The prediction `convs_pred.i` has, per anchor, 4 box outputs, the objectness and C class
/// logits for labels `0..<C`. As for RetinaNet, SimpleDet's one-stage heads number classes from 1
/// with output 0 unused, so each anchor gains a class output 0 (after the objectness) with zero
/// weights and bias −1000, whose probability is exactly 0 and never passes a score threshold: the
/// model has C + 1 classes and mmdetection's label `l` is SimpleDet's `l + 1`. Every YOLOv3 of
/// mmdetection has three anchors per cell (`yolov3AnchorsPerCell`), which tells the anchors apart.
extension MMDetectionNames {
  /// Anchors per grid cell of mmdetection's YOLOv3 heads (three `base_sizes` per level).
  public static let yolov3AnchorsPerCell = 3

  /// Whether `tensors` hold a YOLOv3 neck (`neck.detect1.*`).
  static func holdsYOLOV3Neck(_ tensors: [String: Tensor]) -> Bool {
    tensors.keys.contains { $0.hasPrefix("neck.detect1.") }
  }

  /// SimpleDet's name for a Darknet, YOLOv3 neck (when `yolov3Neck`) or YOLOv3 head tensor; nil
  /// for any other name.
  static func yolov3Name(for name: String, yolov3Neck: Bool) -> String? {
    if name.hasPrefix("backbone.conv_res_block") { return "backbone.body." + name.dropFirst("backbone.".count) }
    if yolov3Neck, name.hasPrefix("neck.") {
      let rest = name.dropFirst("neck.".count)
      return rest.hasPrefix("detect") || rest.hasPrefix("conv") ? "backbone.fpn." + rest : nil
    }
    for module in ["bbox_head.convs_bridge.", "bbox_head.convs_pred."] where name.hasPrefix(module) {
      return "head." + name.dropFirst("bbox_head.".count)
    }
    return nil
  }

  /// A YOLOv3 prediction's weight or bias with the unused class output 0 added to each anchor;
  /// nil for other tensors.
  static func yolov3Value(of name: String, _ tensor: Tensor, fail: (String, String) -> WeightFileError) throws -> Tensor? {
    guard name.hasPrefix("bbox_head.convs_pred."), name.hasSuffix(".weight") || name.hasSuffix(".bias") else { return nil }
    let anchors = yolov3AnchorsPerCell
    let rows = tensor.shape[0]
    guard rows % anchors == 0, rows / anchors > 5 else {
      throw fail(
        name,
        "has \(rows) rows; YOLOv3's prediction has \(anchors) anchors of 4 box outputs, the objectness and at least one class each")
    }
    let trailing = Array(tensor.shape.dropFirst())
    let perAnchor = tensor.reshaped([anchors, rows / anchors] + trailing)
    let unused = Tensor.zeros([anchors, 1] + trailing, dtype: tensor.dtype, device: tensor.device)
    if name.hasSuffix(".bias") {
      withNoGrad { unused.fill(with: Double(unusedClassBias)) }
    }
    let split = [perAnchor.sliced(axis: 1, 0..<5), unused, perAnchor.sliced(axis: 1, 5..<(rows / anchors))]
    return Tensor.concatenate(split, axis: 1).reshaped([rows + anchors] + trailing)
  }
}
