import NN

/// The assemblies of well-known detectors, as configs under `configs/` spell them too.
extension DetectorConfiguration {
  /// torchvision's `fasterrcnn_resnet50_fpn` with `classes` classes (including background).
  public static func torchvisionFasterRCNN(classes: Int = 91) -> DetectorConfiguration {
    var c = DetectorConfiguration()
    c.classes = classes
    return c
  }

  /// torchvision's `fasterrcnn_resnet50_fpn_v2` (Li et al. 2021's improved recipe): batch norm
  /// in the backbone and the FPN, two convolutions in the RPN head, and a four-convolution,
  /// one-linear box head.
  public static func torchvisionFasterRCNNv2(classes: Int = 91) -> DetectorConfiguration {
    var c = torchvisionFasterRCNN(classes: classes)
    c.backbone = .resnet(ResNet.Configuration(norm: .batchNorm))
    c.neck = .fpn(FPNConfiguration(norm: .batchNorm))
    c.rpn?.convDepth = 2
    c.roiHeads?.standard?.boxHead = .convFC(convolutions: [256, 256, 256, 256], fullyConnected: [1024], norm: .batchNorm)
    return c
  }

  /// torchvision's `maskrcnn_resnet50_fpn`.
  public static func torchvisionMaskRCNN(classes: Int = 91) -> DetectorConfiguration {
    var c = torchvisionFasterRCNN(classes: classes)
    c.roiHeads?.standard?.maskHead = MaskHeadConfiguration()
    return c
  }

  /// torchvision's `maskrcnn_resnet50_fpn_v2`: the v2 Faster R-CNN with batch norm in the mask head.
  public static func torchvisionMaskRCNNv2(classes: Int = 91) -> DetectorConfiguration {
    var c = torchvisionFasterRCNNv2(classes: classes)
    var mask = MaskHeadConfiguration()
    mask.norm = .batchNorm
    c.roiHeads?.standard?.maskHead = mask
    return c
  }

  /// The FPN of torchvision's one-stage detectors: P3–P5 from C3–C5, then P6 and P7.
  private static func oneStage(head: DenseHeadConfiguration, classes: Int, extraInput: ExtraLevelsInput, norm: NormKind)
    -> DetectorConfiguration
  {
    var c = DetectorConfiguration(head: head)
    c.classes = classes
    c.backbone = .resnet(ResNet.Configuration(norm: norm, outFeatures: [.c3, .c4, .c5]))
    c.neck = .fpn(FPNConfiguration(extraLevels: .p6p7, extraInput: extraInput))
    return c
  }

  /// torchvision's `retinanet_resnet50_fpn` with `classes` sigmoid outputs.
  public static func torchvisionRetinaNet(classes: Int = 91) -> DetectorConfiguration {
    oneStage(head: .retinaNet(RetinaNetHeadConfiguration()), classes: classes, extraInput: .p5, norm: .frozenBatchNorm)
  }

  /// torchvision's `retinanet_resnet50_fpn_v2` (Zhang et al.'s ATSS-paper recipe): batch norm in
  /// the backbone, P6 from C5, group norm in the head, and a GIoU box loss.
  public static func torchvisionRetinaNetv2(classes: Int = 91) -> DetectorConfiguration {
    var head = RetinaNetHeadConfiguration()
    head.norm = .groupNorm
    head.boxRegressionLoss = .giou
    return oneStage(head: .retinaNet(head), classes: classes, extraInput: .c5, norm: .batchNorm)
  }

  /// torchvision's `fcos_resnet50_fpn` with `classes` sigmoid outputs.
  public static func torchvisionFCOS(classes: Int = 91) -> DetectorConfiguration {
    oneStage(head: .fcos(FCOSHeadConfiguration()), classes: classes, extraInput: .p5, norm: .frozenBatchNorm)
  }

  /// Faster R-CNN R50-C4 (detectron2's `faster_rcnn_R_50_C4`, the paper's Figure 1b): ResNet
  /// stages 1–4 as the backbone, no neck, the RPN on C4 with 15 anchors, RoIAlign at stride 16
  /// to 14×14 (aligned, adaptive sampling), and stage 5 as the box head.
  public static func fasterRCNNC4(classes: Int = 81) -> DetectorConfiguration {
    var c = DetectorConfiguration()
    c.classes = classes
    c.backbone = .resnet(ResNet.Configuration(outFeatures: [.c4]))
    c.neck = .none
    var rpn = RPNConfiguration()
    rpn.anchorSizes = [[32, 64, 128, 256, 512]]
    rpn.aspectRatios = [[0.5, 1, 2]]
    rpn.preNMSTopNTrain = 12_000
    rpn.preNMSTopNTest = 6000
    rpn.postNMSTopNTest = 1000
    c.rpn = rpn
    var roiHeads = RoIHeadsConfiguration()
    roiHeads.boxHead = .resNetStage
    roiHeads.poolerResolution = 14
    roiHeads.poolerSamplingRatio = 0
    roiHeads.poolerAligned = true
    c.roiHeads = .standard(roiHeads)
    return c
  }
}
