import Foundation
import NN
import Torch

/// Images after the detector's input transform, padded into one batch tensor.
public struct ImageBatch {
  /// `[N, 3, H, W]`, zero-padded at the bottom and right to a multiple of the size divisor.
  public var tensor: Tensor
  /// Each image's size inside the batch after resizing, before padding.
  public var imageSizes: [(height: Int, width: Int)]
  /// Each image's size before resizing, to map detections back.
  public var originalSizes: [(height: Int, width: Int)]

  public init(tensor: Tensor, imageSizes: [(height: Int, width: Int)], originalSizes: [(height: Int, width: Int)]) {
    self.tensor = tensor
    self.imageSizes = imageSizes
    self.originalSizes = originalSizes
  }
}

/// The detector's input transform, as torchvision's `GeneralizedRCNNTransform`: normalise with
/// the backbone's mean and std, resize so the shorter side is `minSize` (one of several, drawn
/// per image when training) and the longer at most `maxSize`, pad to a multiple of
/// `sizeDivisible`; and afterwards map boxes back to the original image.
public struct ImageTransform: Codable, Equatable, Sendable {
  /// Candidate shorter-side sizes; training draws one per image, testing uses the last.
  public var minSize: [Int]
  public var maxSize: Int
  public var mean: [Double]
  public var std: [Double]
  public var sizeDivisible: Int
  /// Skip resizing (the benchmark's fixed-size input).
  public var fixedSize: Bool
  /// How the resized size is rounded from size × scale.
  public var sizeRounding: SizeRounding
  /// The channel order the network takes: `rgb`, or `bgr` for Caffe-trained backbones
  /// (mmdetection's `*-caffe` models); images arrive in RGB and are flipped before `mean` and
  /// `std`, which are then in BGR order.
  public var channelOrder: ChannelOrder
  /// Whether each size of `minSize` bounds both sides, so that the longer side becomes that
  /// size (mmdetection's `Resize(scale=(s, s), keep_ratio=True)`, YOLOv3's square sizes; with
  /// several sizes, its multi-scale training) and `maxSize` is not used; false: `minSize` is the
  /// shorter side and `maxSize` limits the longer.
  public var squareSizes: Bool

  /// The order of an image's colour channels.
  public enum ChannelOrder: String, ConfigChoice, Sendable {
    case rgb, bgr
  }

  /// Rounding of the resized image size.
  public enum SizeRounding: String, ConfigChoice, Sendable {
    /// Truncated, as torchvision's `GeneralizedRCNNTransform` (640 × 5/3 → 1066).
    case floor
    /// To the nearest integer, `int(w · scale + 0.5)`, as mmcv's `rescale_size` (640 × 5/3 → 1067).
    case nearest
  }

  public init(
    minSize: [Int] = [800], maxSize: Int = 1333, mean: [Double] = [0.485, 0.456, 0.406],
    std: [Double] = [0.229, 0.224, 0.225], sizeDivisible: Int = 32, fixedSize: Bool = false,
    sizeRounding: SizeRounding = .floor, channelOrder: ChannelOrder = .rgb, squareSizes: Bool = false
  ) {
    self.squareSizes = squareSizes
    self.minSize = minSize
    self.maxSize = maxSize
    self.mean = mean
    self.std = std
    self.sizeDivisible = sizeDivisible
    self.fixedSize = fixedSize
    self.sizeRounding = sizeRounding
    self.channelOrder = channelOrder
  }

  /// Transforms `images` (each `[3, H, W]`, float in [0, 1]) and their targets' boxes.
  public func callAsFunction(_ images: [Tensor], targets: [Instances]? = nil, generator: Generator? = nil) -> (
    ImageBatch, [Instances]?
  ) {
    precondition(!images.isEmpty, "ImageTransform needs at least one image")
    var resized: [Tensor] = []
    var newTargets: [Instances] = []
    var sizes: [(height: Int, width: Int)] = []
    var originals: [(height: Int, width: Int)] = []
    for (i, image) in images.enumerated() {
      precondition(image.rank == 3 && image.shape[0] == 3, "ImageTransform expects [3, H, W] images, got \(image.shape)")
      let original = (height: image.shape[1], width: image.shape[2])
      originals.append(original)
      let normalized = normalize(image)
      let target = targets?[i]
      let shortSide = pickSize(generator: generator)
      let (out, size) = fixedSize ? (normalized, original) : resize(normalized, shortSide: shortSide)
      resized.append(out)
      sizes.append(size)
      if var target {
        var fields = target.fields
        if let boxes = target.boxes { fields["boxes"] = Self.rescale(boxes.tensor, from: original, to: size) }
        // Masks follow the image with nearest-neighbour resampling, as torchvision resizes them.
        if let masks = target["masks"], !fixedSize, masks.shape[0] > 0, (masks.shape[1], masks.shape[2]) != (size.height, size.width) {
          fields["masks"] = Functional.interpolate(
            masks.unsqueezed(axis: 1).to(.float32), size: (size.height, size.width), mode: .nearest
          ).squeezed(axis: 1).to(masks.dtype)
        }
        target = Instances(imageSize: size, fields: fields)
        newTargets.append(target)
      }
    }
    return (ImageBatch(tensor: batch(resized), imageSizes: sizes, originalSizes: originals), targets == nil ? nil : newTargets)
  }

  /// This transform with the test-time sizes of `inference` (what every detector's `detect` uses).
  public func forTesting(_ inference: InferenceSettings) -> ImageTransform {
    var transform = self
    transform.minSize = [inference.minSize]
    transform.maxSize = inference.maxSize
    return transform
  }

  /// The size an image of `height`×`width` pixels is resized to for a shorter side of `shortSide`.
  public func resizedSize(height h: Int, width w: Int, shortSide: Int) -> (height: Int, width: Int) {
    let longSide = squareSizes ? shortSide : maxSize
    let scale = Swift.min(Double(shortSide) / Double(Swift.min(h, w)), Double(longSide) / Double(Swift.max(h, w)))
    let size: (height: Int, width: Int)
    switch sizeRounding {
    case .floor: size = (Int(Double(h) * scale), Int(Double(w) * scale))
    case .nearest: size = (Int(Double(h) * scale + 0.5), Int(Double(w) * scale + 0.5))
    }
    // A sliver (1 × 5000 pixels) would shrink to no pixels at all, which torchvision fails on;
    // keep at least one row and column.
    return (Swift.max(1, size.height), Swift.max(1, size.width))
  }

  /// What an image of `height`×`width` pixels occupies alone in a test batch: resized to the last
  /// of `minSize` (unless `fixedSize`), then padded to a multiple of `sizeDivisible`.
  public func paddedTestSize(height: Int, width: Int) -> (height: Int, width: Int) {
    let size: (height: Int, width: Int) = fixedSize ? (height, width) : resizedSize(height: height, width: width, shortSide: minSize[minSize.count - 1])
    let divisor = Swift.max(1, sizeDivisible)
    return ((size.height + divisor - 1) / divisor * divisor, (size.width + divisor - 1) / divisor * divisor)
  }

  /// Boxes `[N, 4]` from the resized image of `batch` image `index` back to its original pixels.
  public func boxesToOriginal(_ boxes: Tensor, in batch: ImageBatch, index: Int) -> Tensor {
    Self.rescale(boxes, from: batch.imageSizes[index], to: batch.originalSizes[index])
  }

  private func normalize(_ image: Tensor) -> Tensor {
    var image = image
    if channelOrder == .bgr { image = image.flipped(axes: [0]) }
    let m = Tensor(mean, device: image.device).to(image.dtype).reshaped([3, 1, 1])
    let s = Tensor(std, device: image.device).to(image.dtype).reshaped([3, 1, 1])
    return (image - m) / s
  }

  private func pickSize(generator: Generator?) -> Int {
    guard minSize.count > 1, let generator else { return minSize[minSize.count - 1] }
    let index = Tensor.randint(0..<minSize.count, shape: [1], generator: generator).intValue()
    return minSize[index]
  }

  /// Bilinear resize with torchvision's eager arithmetic: the scale is computed in double
  /// precision and the output size is size × scale truncated (or rounded to nearest, as mmcv
  /// does, with `sizeRounding`). (torchvision's TorchScript path computes the scale in float32,
  /// which turns 480 × 800/480 into 799.99998 and a row fewer.)
  private func resize(_ image: Tensor, shortSide: Int) -> (Tensor, (height: Int, width: Int)) {
    let size = resizedSize(height: image.shape[1], width: image.shape[2], shortSide: shortSide)
    let out = Functional.interpolate(image.unsqueezed(axis: 0), size: (size.height, size.width), mode: .bilinear)
    return (out.squeezed(axis: 0), size)
  }

  private func batch(_ images: [Tensor]) -> Tensor {
    let divisor = Double(sizeDivisible)
    let maxH = images.map { $0.shape[1] }.max()!
    let maxW = images.map { $0.shape[2] }.max()!
    let h = Int((Double(maxH) / divisor).rounded(.up) * divisor)
    let w = Int((Double(maxW) / divisor).rounded(.up) * divisor)
    if images.allSatisfy({ $0.shape[1] == h && $0.shape[2] == w }) { return Tensor.stack(images, axis: 0) }
    let out = Tensor.zeros([images.count, 3, h, w], dtype: images[0].dtype, device: images[0].device)
    withNoGrad {
      for (i, image) in images.enumerated() {
        out[i, .all, 0..<image.shape[1], 0..<image.shape[2]] = image
      }
    }
    return out
  }

  /// Scales x by the width ratio and y by the height ratio, each computed in float32 as torchvision does.
  static func rescale(_ boxes: Tensor, from: (height: Int, width: Int), to: (height: Int, width: Int)) -> Tensor {
    let ry = Double(Float(to.height) / Float(from.height))
    let rx = Double(Float(to.width) / Float(from.width))
    let factors = Tensor([Float(rx), Float(ry), Float(rx), Float(ry)], device: boxes.device).to(boxes.dtype)
    return boxes * factors
  }
}
