import Foundation
import Testing
@testable import Detection
@testable import Torch

@Suite struct BoxTests {
  let a = Boxes(Tensor([0, 0, 10, 10, 5, 5, 15, 15] as [Double], shape: [2, 4]))
  let b = Boxes(Tensor([0, 0, 10, 10, 20, 20, 30, 30] as [Double], shape: [2, 4]))

  @Test func iouMatrix() {
    let iou = Boxes.iou(a, b).toArray(Double.self)
    #expect(iou == [1, 0, 25.0 / 175, 0])
  }

  @Test func generalizedIoUPenalisesDistance() {
    let giou = Boxes.generalizedIoU(a, b).toArray(Double.self)
    #expect(Swift.abs(giou[0] - 1) < 1e-12)
    // Disjoint boxes [0,10]² and [20,30]²: enclosing 900, union 200 → -700/900.
    #expect(Swift.abs(giou[1] - (-700.0 / 900)) < 1e-12)
  }

  @Test func areasClipFlipAndXYWH() {
    let boxes = Boxes(Tensor([-5, 2, 12, 8] as [Double], shape: [1, 4]))
    #expect(boxes.areas.toArray(Double.self) == [102])
    #expect(boxes.clipped(height: 6, width: 10).tensor.toArray(Double.self) == [0, 2, 10, 6])
    #expect(boxes.flippedHorizontally(imageWidth: 20).tensor.toArray(Double.self) == [8, 2, 25, 8])
    #expect(boxes.xywh.toArray(Double.self) == [-5, 2, 17, 6])
    #expect(Boxes(xywh: boxes.xywh).tensor.toArray(Double.self) == [-5, 2, 12, 8])
    #expect(boxes.nonEmpty(minSize: 6).toArray(Bool.self) == [false])
  }

  @Test func coderRoundTrip() {
    let coder = BoxCoder(weights: (10, 10, 5, 5))
    let references = Tensor([0, 0, 10, 20, 5, 5, 7, 9] as [Double], shape: [2, 4])
    let targets = Tensor([1, 2, 13, 18, 4, 6, 9, 8] as [Double], shape: [2, 4])
    let offsets = coder.encode(targets, references: references)
    // First box: centres (5, 10) → (7, 10); sizes (10, 20) → (12, 16).
    let first = offsets[0].toArray(Double.self)
    #expect(Swift.abs(first[0] - 2) < 1e-12)
    #expect(Swift.abs(first[1]) < 1e-12)
    #expect(Swift.abs(first[2] - 5 * Foundation.log(1.2)) < 1e-12)
    #expect(Swift.abs(first[3] - 5 * Foundation.log(0.8)) < 1e-12)
    #expect(coder.decode(offsets, references: references).isClose(to: targets, relativeTolerance: 1e-12, absoluteTolerance: 1e-12))
  }

  @Test func decodeClampsHugeScales() {
    let coder = BoxCoder(weights: (1, 1, 1, 1))
    let decoded = coder.decode(Tensor([0, 0, 100, 100] as [Double], shape: [1, 4]), references: Tensor([0, 0, 16, 16] as [Double], shape: [1, 4]))
    // exp(log(1000/16)) · 16 = 1000 wide, centred at 8.
    #expect(decoded.isClose(to: Tensor([-492, -492, 508, 508] as [Double], shape: [1, 4]), relativeTolerance: 1e-9))
  }

  @Test func levelMapperFollowsTheFPNRule() {
    let mapper = LevelMapper(minLevel: 2, maxLevel: 5)
    let boxes = Boxes(Tensor([0, 0, 10, 10, 0, 0, 112, 112, 0, 0, 224, 224, 0, 0, 500, 500, 0, 0, 2000, 2000] as [Double], shape: [5, 4]))
    #expect(mapper.levels(for: boxes).toArray(Int.self) == [0, 1, 2, 3, 3])
  }

  @Test func instancesIndexFieldsTogether() {
    var instances = Instances(imageSize: (20, 30))
    instances["scores"] = Tensor([0.1, 0.9, 0.5] as [Float])
    instances["labels"] = Tensor([1, 2, 3] as [Int])
    let kept = instances[Tensor([false, true, true])]
    #expect(kept.count == 2)
    #expect(kept["labels"]!.toArray(Int.self) == [2, 3])
  }
}
