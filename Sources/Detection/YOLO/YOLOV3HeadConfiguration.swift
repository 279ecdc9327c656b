import NN

/// The YOLOv3 head's settings (the `yolov3` dense head kind). The defaults are mmdetection's
/// `yolov3_d53_8xb8-ms-608-273e_coco` (its `YOLOV3Head`, `GridAssigner` and `test_cfg`).
///
/// Labels: as RetinaNet's, `classes` sigmoid outputs per anchor indexed by the targets' labels;
/// datasets that number classes from 1 leave output 0 unused.
public struct YOLOV3HeadConfiguration: Codable, Equatable, Sendable {
  /// Anchor `[width, height]` pairs in input pixels per level, finest first: mmdetection's
  /// `YOLOAnchorGenerator` `base_sizes`, which it lists coarsest first. Each anchor is centred on
  /// its grid cell's centre; strides are the neck's (8, 16 and 32 on Darknet-53).
  public var anchorSizes: [[[Double]]] = [
    [[10, 13], [16, 30], [33, 23]], [[30, 61], [62, 45], [59, 119]], [[116, 90], [156, 198], [373, 326]],
  ]
  /// Channels of each level's 3×3 bridge convolution before the prediction, finest first
  /// (mmdetection's `out_channels`, listed coarsest first: `[1024, 512, 256]`); empty: twice each
  /// input level's channels, mmdetection's choice.
  public var bridgeChannels: [Int] = []
  /// Normalisation after each bridge convolution.
  public var norm = NormKind.batchNorm
  /// `GridAssigner`: an anchor in a ground truth's grid cell whose best IoU exceeds this is
  /// foreground (`pos_iou_thr`)...
  public var foregroundIoU = 0.5
  /// ...anchors whose best IoU with every ground truth is at most this are background; those
  /// above it that are not foreground are ignored in the objectness loss (`neg_iou_thr`, the
  /// paper's ignore threshold).
  public var backgroundIoU = 0.5
  /// Each ground truth also takes its best anchors in its cell when that IoU exceeds this
  /// (`min_pos_iou`; 0: always, the best anchor per ground truth).
  public var minForegroundIoU = 0.0
  /// Label smoothing of the class targets (`one_hot_smoother`).
  public var labelSmoothing = 0.0
  /// Weights of the four summed losses: classes and objectness (binary cross entropy), the box
  /// centre in its cell (binary cross entropy on the sigmoid's input) and its log size (squared
  /// error), as mmdetection's config sets `loss_weight`.
  public var classLossWeight = 1.0
  public var objectnessLossWeight = 1.0
  public var centerLossWeight = 2.0
  public var sizeLossWeight = 2.0
  /// Test: anchors whose objectness is below this are dropped first (`conf_thr`; 0 keeps all).
  public var objectnessThreshold = 0.005
  /// Test: class probabilities at or below this are dropped (`score_thr`), before they are
  /// multiplied by the objectness.
  public var scoreThreshold = 0.05
  /// Test: the (anchor, class) candidates ranked by class probability kept before NMS (`nms_pre`).
  public var topCandidates = 1000
  /// Test: boxes must be wider and taller than this, in original pixels (`min_bbox_size`).
  public var minBoxSize = 0.0
  public var nmsThreshold = 0.45
  public var detectionsPerImage = 100

  public init() {}

  /// Anchors per grid cell (the same at every level).
  public var anchorsPerLocation: Int { anchorSizes.first?.count ?? 0 }

  /// Bridge channels per level for input maps of `input` channels, finest first.
  public func bridgeChannels(input: [Int]) -> [Int] {
    bridgeChannels.isEmpty ? input.map { $0 * 2 } : bridgeChannels
  }
}
