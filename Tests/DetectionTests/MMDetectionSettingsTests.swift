import Foundation
import Testing
import Torch

@testable import Detection

/// The options that reproduce mmdetection's arithmetic where it differs from torchvision's
/// (each defaulting to torchvision's): unrounded anchor templates, nominal anchor strides, the
/// resized size rounded to nearest, and masks pasted by sampling at pixel centres.
@Suite struct MMDetectionSettingsTests {
  @Test func anchorTemplatesRoundedOrExact() {
    let sizes: [[Double]] = [[32, 32 * pow(2, 1.0 / 3)]]
    let rounded = AnchorGenerator(sizes: sizes, aspectRatios: [[1]]).cellAnchors(level: 0, dtype: .float64, device: .cpu)
    let exact = AnchorGenerator(sizes: sizes, aspectRatios: [[1]], roundsBaseAnchors: false).cellAnchors(level: 0, dtype: .float64, device: .cpu)
    #expect(rounded.toArray(Double.self) == [-16, -16, 16, 16, -20, -20, 20, 20])
    let half = 16 * pow(2, 1.0 / 3)
    #expect(zip(exact.toArray(Double.self), [-16, -16, 16, 16, -half, -half, half, half]).allSatisfy { abs($0 - $1) < 1e-9 })
  }

  @Test func anchorStridesGivenOrFromTheFeatureSize() {
    // An 800-row padded input over a 13-row P6: torchvision's stride is 800 / 13 = 61, the nominal one 64.
    let inferred = AnchorGenerator(sizes: [[512]], aspectRatios: [[1]])
    let nominal = AnchorGenerator(sizes: [[512]], aspectRatios: [[1]], strides: [64])
    let a = inferred.anchors(imageSize: (800, 1088), featureSizes: [(13, 17)])[0]
    let b = nominal.anchors(imageSize: (800, 1088), featureSizes: [(13, 17)])[0]
    // The last row's first anchor: its centre y is 12 strides down.
    let last = 12 * 17
    #expect(a[last, 1].doubleValue() == 12 * 61 - 256)
    #expect(b[last, 1].doubleValue() == 12 * 64 - 256)
    #expect(a[1, 0].doubleValue() == 64 - 256 && b[1, 0].doubleValue() == 64 - 256)
  }

  @Test func resizedSizeFloorOrNearest() {
    let image = Tensor.zeros([3, 480, 640])
    let floor = ImageTransform(minSize: [800], maxSize: 1333)
    let nearest = ImageTransform(minSize: [800], maxSize: 1333, sizeRounding: .nearest)
    #expect(floor([image]).0.imageSizes[0] == (800, 1066))
    #expect(nearest([image]).0.imageSizes[0] == (800, 1067))
  }

  /// A one-pixel-wide sliver keeps one column instead of shrinking to none (which made
  /// libtorch's resize fail inside `simpledet predict` and `serve`).
  @Test func sliverKeepsOnePixelPerSide() {
    let transform = ImageTransform(minSize: [96], maxSize: 128)
    #expect(transform([Tensor.zeros([3, 5000, 1])]).0.imageSizes[0] == (128, 1))
    #expect(transform([Tensor.zeros([3, 1, 5000])]).0.imageSizes[0] == (1, 128))
  }

  /// An M×M mask pasted into the box (0, 0, M, M) by sampling is the mask itself (each pixel
  /// centre falls on a cell centre), with zeros beyond it.
  @Test func pastingBySamplingAtPixelCentres() {
    let mask = Tensor.rand([1, 1, 28, 28], dtype: .float32, generator: Generator(seed: 3))
    let pasted = MaskOperations.paste(mask, boxes: Tensor([0, 0, 28, 28] as [Float], shape: [1, 4]), height: 40, width: 40, pasting: .gridSample)
    #expect(pasted.shape == [1, 1, 40, 40])
    #expect((pasted[0, 0, 0 ..< 28, 0 ..< 28] - mask[0, 0]).abs().max().doubleValue() < 1e-6)
    #expect(pasted[0, 0, 28 ..< 40, .all].abs().sum().doubleValue() == 0)
    // Half a cell to the right: every pixel is the mean of two neighbouring cells.
    let shifted = MaskOperations.paste(mask, boxes: Tensor([0.5, 0, 28.5, 28] as [Float], shape: [1, 4]), height: 40, width: 40, pasting: .gridSample)
    let expected = (mask[0, 0, .all, 0 ..< 27] + mask[0, 0, .all, 1 ..< 28]) / 2
    #expect((shifted[0, 0, 0 ..< 28, 1 ..< 28] - expected).abs().max().doubleValue() < 1e-6)
  }
}
