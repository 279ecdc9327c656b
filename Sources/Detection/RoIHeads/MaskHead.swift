import NN
import Torch

/// The mask branch of Mask R-CNN (He et al. 2017), with torchvision's defaults.
public struct MaskHeadConfiguration: Codable, Equatable, Sendable {
  /// Output channels of each 3×3 convolution of the head.
  public var convolutions = [256, 256, 256, 256]
  /// Normalisation after each convolution (nil: convolutions with bias; torchvision's v2 uses BN).
  @Nullable public var norm: NormKind? = nil
  /// RoIAlign output size of the mask branch; the predicted masks are twice this.
  public var resolution = 14
  public var samplingRatio = 2
  /// Channels of the 2×2 transposed convolution before the per-class logits.
  public var predictorChannels = 256
  /// How predicted masks are pasted into the image.
  public var paste = MaskPasting.boxResize

  public init() {}
}

/// How a predicted M×M mask is pasted into the image.
public enum MaskPasting: String, ConfigChoice, Sendable {
  /// torchvision's `paste_masks_in_image`: the mask padded by one pixel, its box grown to match
  /// and truncated to whole pixels, the mask resized bilinearly to that box.
  case boxResize = "box_resize"
  /// mmdetection's `_do_paste_mask`: each image pixel centre inside the box's neighbourhood samples
  /// the mask bilinearly (`grid_sample`, zeros outside), at the box's exact coordinates.
  case gridSample = "grid_sample"
}

/// 3×3 convolution(–norm)–ReLU blocks over pooled RoI features (torchvision's `MaskRCNNHeads`,
/// numbered like its `Sequential`: `0.0.weight`, `0.1.running_mean`, ...).
public final class MaskRCNNHeads: Module, UnaryLayer {
  let layers: Sequential

  public init(channels: Int, configuration: MaskHeadConfiguration, generator: Generator? = nil) {
    var blocks: [any UnaryLayer] = []
    var previous = channels
    for width in configuration.convolutions {
      let conv = Conv2d(previous, width, kernelSize: 3, padding: 1, bias: configuration.norm == nil, generator: generator)
      Initializer.kaimingNormal(conv.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
      if let bias = conv.bias { withNoGrad { bias.fill(with: 0) } }
      if let norm = configuration.norm {
        blocks.append(Sequential(conv, norm.make(width), Activation.relu()))
      } else {
        blocks.append(Sequential(conv, Activation.relu()))
      }
      previous = width
    }
    layers = Sequential(blocks)
    super.init()
  }

  public override var namedChildren: [(String, Module)] { layers.namedChildren }

  /// RoIAlign's NCHW output is taken in channels-last layout, which the head's convolutions
  /// (and the predictor's) keep: oneDNN runs them faster on it.
  public func callAsFunction(_ x: Tensor) -> Tensor { layers(x.channelsLast()) }

  /// The blocks as checkpointed segments in training when `checkpointing`.
  func callAsFunction(_ x: Tensor, checkpointing: Bool) -> Tensor {
    checkpointedLayers(checkpointing, layers, x.channelsLast())
  }
}

/// Upsamples the head's features 2× and predicts one mask logit map per class (torchvision's
/// `MaskRCNNPredictor`: `conv5_mask`, `mask_fcn_logits`).
public final class MaskRCNNPredictor: Module, UnaryLayer {
  let conv5Mask: ConvTranspose2d
  let maskFcnLogits: Conv2d

  public init(inputChannels: Int, reducedChannels: Int, classes: Int, generator: Generator? = nil) {
    conv5Mask = ConvTranspose2d(
      inputChannels: inputChannels, outputChannels: reducedChannels, kernelSize: (2, 2), stride: (2, 2), generator: generator)
    maskFcnLogits = Conv2d(reducedChannels, classes, kernelSize: 1, generator: generator)
    // torchvision re-initialises only the weights; the biases keep PyTorch's default.
    Initializer.kaimingNormal(conv5Mask.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
    Initializer.kaimingNormal(maskFcnLogits.weight, mode: .fanOut, nonlinearity: .relu, generator: generator)
    super.init()
  }

  /// `[R, classes, 2·resolution, 2·resolution]` logits.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    maskFcnLogits(conv5Mask(x).relu())
  }
}

/// Mask R-CNN's mask targets and loss, and the pasting of predicted masks into images.
public enum MaskOperations {
  /// Each RoI's ground-truth mask cropped to its box and resampled to `size`×`size`
  /// (torchvision's `project_masks_on_boxes`: RoIAlign on the binary masks, not thresholded).
  /// - Parameters:
  ///   - masks: `[G, H, W]` ground-truth masks of one image (any numeric type).
  ///   - boxes: `[R, 4]` RoIs in the same pixels.
  ///   - matched: `[R]` the ground-truth index of each RoI.
  public static func targets(masks: Tensor, boxes: Tensor, matched: Tensor, size: Int) -> Tensor {
    let rois = Tensor.concatenate([matched.to(boxes.dtype).unsqueezed(axis: 1), boxes], axis: 1)
    let pooled = roiAlign(
      masks.unsqueezed(axis: 1).to(rois.dtype), rois: rois, outputSize: (size, size), spatialScale: 1, samplingRatio: 0,
      aligned: false)
    return pooled.squeezed(axis: 1)
  }

  /// Binary cross entropy between each RoI's logits for its class and its target
  /// (torchvision's `maskrcnn_loss`); zero (with a gradient path) when there are no RoIs.
  public static func loss(logits: Tensor, labels: Tensor, targets: Tensor) -> Tensor {
    guard targets.shape[0] > 0 else { return logits.sum() * 0 }
    let rows = Tensor.arange(0, labels.shape[0], dtype: .int64, device: logits.device)
    let chosen = logits[rows, labels]
    return Functional.binaryCrossEntropyWithLogits(chosen, targets: targets)
  }

  /// Mask probabilities `[N, 1, M, M]` pasted into an image of `height`×`width` at `boxes`,
  /// in the way `pasting` names. `[N, 1, height, width]`.
  public static func paste(_ masks: Tensor, boxes: Tensor, height: Int, width: Int, pasting: MaskPasting) -> Tensor {
    switch pasting {
    case .boxResize: paste(masks, boxes: boxes, height: height, width: width)
    case .gridSample: pasteBySampling(masks, boxes: boxes, height: height, width: width)
    }
  }

  /// Mask probabilities `[N, 1, M, M]` pasted into an image of `height`×`width` at `boxes` as
  /// mmdetection pastes them on a CPU (`_do_paste_mask` with `skip_empty`, one mask at a time):
  /// the pixels from floor(x1) − 1 to ceil(x2) + 1 (and likewise in y) sample the mask at their
  /// centres with `grid_sample`'s bilinear rule (`align_corners=False`, zeros outside). The
  /// sampling is separable, so each mask is two small products with interpolation matrices.
  /// `[N, 1, height, width]`.
  public static func pasteBySampling(_ masks: Tensor, boxes: Tensor, height: Int, width: Int) -> Tensor {
    let n = masks.shape[0]
    let out = Tensor.zeros([n, 1, height, width], dtype: masks.dtype, device: masks.device)
    guard n > 0 else { return out }
    let (mh, mw) = (masks.shape[2], masks.shape[3])
    let padded = masks.padded([1, 1, 1, 1])
    let b = boxes.to(.float32).contiguous().toArray(Float.self)
    withNoGrad {
      for i in 0..<n {
        let (x1, y1, x2, y2) = (b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3])
        guard x2 > x1, y2 > y1 else { continue }
        let xs = max(Int(x1.rounded(.down)) - 1, 0) ..< min(Int(x2.rounded(.up)) + 1, width)
        let ys = max(Int(y1.rounded(.down)) - 1, 0) ..< min(Int(y2.rounded(.up)) + 1, height)
        guard !xs.isEmpty, !ys.isEmpty else { continue }
        let wx = samplingWeights(pixels: xs, from: x1, to: x2, cells: mw).to(masks.dtype).to(masks.device)
        let wy = samplingWeights(pixels: ys, from: y1, to: y2, cells: mh).to(masks.dtype).to(masks.device)
        out[i, 0, ys, xs] = wy.matmul(padded[i, 0]).matmul(wx.transposed(0, 1))
      }
    }
    return out
  }

  /// `[pixels, cells + 2]`: row p holds the bilinear weights on the zero-padded mask of the pixel
  /// centre p + 0.5, in `grid_sample`'s float32 arithmetic (normalised to [−1, 1] over the box,
  /// then unnormalised with `align_corners=False`).
  static func samplingWeights(pixels: Range<Int>, from start: Float, to end: Float, cells: Int) -> Tensor {
    let columns = cells + 2
    var weights = [Float](repeating: 0, count: pixels.count * columns)
    for (row, pixel) in pixels.enumerated() {
      let g: Float = (Float(pixel) + 0.5 - start) / (end - start) * 2 - 1
      let u: Float = ((g + 1) * Float(cells) - 1) / 2
      let floorU = u.rounded(.down)
      let fraction = u - floorU
      guard floorU >= -1, floorU <= Float(cells) else { continue }
      let left = Int(floorU) + 1
      weights[row * columns + left] = 1 - fraction
      if left + 1 < columns { weights[row * columns + left + 1] = fraction }
    }
    return Tensor(weights).reshaped([pixels.count, columns])
  }

  /// Mask probabilities `[N, 1, M, M]` pasted into an image of `height`×`width` at `boxes`
  /// (torchvision's `paste_masks_in_image`: the masks padded by one pixel, their boxes grown to
  /// match and truncated to integers, each resized bilinearly to its box). `[N, 1, height, width]`.
  public static func paste(_ masks: Tensor, boxes: Tensor, height: Int, width: Int) -> Tensor {
    let n = masks.shape[0]
    guard n > 0 else { return Tensor.zeros([0, 1, height, width], dtype: masks.dtype, device: masks.device) }
    let m = masks.shape[3]
    let padding = 1
    let scale = Double(m + 2 * padding) / Double(m)
    let padded = masks.padded([padding, padding, padding, padding])
    // expand_boxes, computed in the boxes' own type as torchvision does, then truncated.
    let halfWidth = (boxes[.all, 2] - boxes[.all, 0]) * 0.5 * scale
    let halfHeight = (boxes[.all, 3] - boxes[.all, 1]) * 0.5 * scale
    let centerX = (boxes[.all, 2] + boxes[.all, 0]) * 0.5
    let centerY = (boxes[.all, 3] + boxes[.all, 1]) * 0.5
    let expanded = Tensor.stack([centerX - halfWidth, centerY - halfHeight, centerX + halfWidth, centerY + halfHeight], axis: 1)
    let integer = expanded.to(.int64).toArray(Int.self)
    let out = Tensor.zeros([n, 1, height, width], dtype: masks.dtype, device: masks.device)
    withNoGrad {
      for i in 0..<n {
        let (x1, y1, x2, y2) = (integer[4 * i], integer[4 * i + 1], integer[4 * i + 2], integer[4 * i + 3])
        let w = max(x2 - x1 + 1, 1)
        let h = max(y2 - y1 + 1, 1)
        let resized = Functional.interpolate(padded[i ..< i + 1], size: (h, w), mode: .bilinear)[0, 0]
        let x0 = max(x1, 0), xEnd = min(x2 + 1, width)
        let y0 = max(y1, 0), yEnd = min(y2 + 1, height)
        guard x0 < xEnd, y0 < yEnd else { continue }
        out[i, 0, y0 ..< yEnd, x0 ..< xEnd] = resized[(y0 - y1) ..< (yEnd - y1), (x0 - x1) ..< (xEnd - x1)]
      }
    }
    return out
  }
}
