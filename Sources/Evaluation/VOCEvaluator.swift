/// A box in corner form, as Pascal VOC annotations give it.
public struct VOCBox: Hashable, Sendable {
  public var x1: Double
  public var y1: Double
  public var x2: Double
  public var y2: Double

  public init(x1: Double, y1: Double, x2: Double, y2: Double) {
    self.x1 = x1
    self.y1 = y1
    self.x2 = x2
    self.y2 = y2
  }
}

/// One ground-truth object.
public struct VOCObject: Hashable, Sendable {
  public var imageID: Int
  public var classID: Int
  public var box: VOCBox
  /// Difficult objects neither count as misses nor make their detections false positives.
  public var difficult: Bool

  public init(imageID: Int, classID: Int, box: VOCBox, difficult: Bool = false) {
    self.imageID = imageID
    self.classID = classID
    self.box = box
    self.difficult = difficult
  }
}

public struct VOCDetection: Hashable, Sendable {
  public var imageID: Int
  public var classID: Int
  public var score: Double
  public var box: VOCBox

  public init(imageID: Int, classID: Int, score: Double, box: VOCBox) {
    self.imageID = imageID
    self.classID = classID
    self.score = score
    self.box = box
  }
}

/// Per-class AP and their mean.
public struct VOCEvaluation: Hashable, Sendable {
  /// AP per class id. A class with detections but no non-difficult object has no entry: its
  /// recall is undefined.
  public let averagePrecision: [Int: Double]
  /// The mean over the classes with an AP, in ascending class order.
  public var meanAveragePrecision: Double {
    let defined = averagePrecision.keys.sorted().map { averagePrecision[$0]! }
    return defined.isEmpty ? 0 : defined.reduce(0, +) / Double(defined.count)
  }
}

/// Pascal VOC detection AP, the algorithm of the VOC devkit's `voc_eval`.
///
/// Detections of a class are taken by descending score (ties in input order); each one matches
/// the object it overlaps most in its image. Above the threshold it is a true positive unless
/// that object is difficult (ignored) or already matched (false positive); below it is a false
/// positive.
public struct VOCEvaluator: Hashable, Sendable {
  public enum Method: Hashable, Sendable {
    /// VOC2007: mean of the best precision at recall ≥ 0, 0.1, …, 1.
    case elevenPoint
    /// VOC2010 and later: area under the precision envelope.
    case area
  }

  public var iouThreshold: Double
  public var method: Method
  /// The devkit counts pixels inclusively: a box from x1 to x2 is `x2 - x1 + 1` wide. Turn off for
  /// boxes in continuous coordinates.
  public var inclusivePixels: Bool

  public init(iouThreshold: Double = 0.5, method: Method = .area, inclusivePixels: Bool = true) {
    self.iouThreshold = iouThreshold
    self.method = method
    self.inclusivePixels = inclusivePixels
  }

  public func evaluate(objects: [VOCObject], detections: [VOCDetection]) -> VOCEvaluation {
    let classIDs = Set(objects.map(\.classID)).union(detections.map(\.classID))
    var result: [Int: Double] = [:]
    for classID in classIDs.sorted() {
      result[classID] = averagePrecision(
        objects: objects.filter { $0.classID == classID }, detections: detections.filter { $0.classID == classID })
    }
    return VOCEvaluation(averagePrecision: result)
  }

  private func averagePrecision(objects: [VOCObject], detections: [VOCDetection]) -> Double? {
    var objectsByImage: [Int: [Int]] = [:]
    for (index, object) in objects.enumerated() { objectsByImage[object.imageID, default: []].append(index) }
    let positives = objects.count { !$0.difficult }
    if positives == 0 { return nil }

    let order = detections.indices.sorted { a, b in
      detections[a].score > detections[b].score || (detections[a].score == detections[b].score && a < b)
    }
    var matched = [Bool](repeating: false, count: objects.count)
    var truePositives = 0.0, falsePositives = 0.0
    var recall: [Double] = []
    var precision: [Double] = []
    let one = inclusivePixels ? 1.0 : 0.0
    for index in order {
      let box = detections[index].box
      var best = -Double.infinity
      var bestObject = -1
      for candidate in objectsByImage[detections[index].imageID] ?? [] {
        let other = objects[candidate].box
        let width = max(min(box.x2, other.x2) - max(box.x1, other.x1) + one, 0)
        let height = max(min(box.y2, other.y2) - max(box.y1, other.y1) + one, 0)
        let intersection = width * height
        let union =
          (box.x2 - box.x1 + one) * (box.y2 - box.y1 + one) + (other.x2 - other.x1 + one) * (other.y2 - other.y1 + one)
          - intersection
        let overlap = intersection / union
        if overlap > best {
          best = overlap
          bestObject = candidate
        }
      }
      if best > iouThreshold {
        if !objects[bestObject].difficult {
          if matched[bestObject] {
            falsePositives += 1
          } else {
            matched[bestObject] = true
            truePositives += 1
          }
        }
      } else {
        falsePositives += 1
      }
      recall.append(truePositives / Double(positives))
      precision.append(truePositives / max(truePositives + falsePositives, Double.ulpOfOne))
    }

    switch method {
    case .elevenPoint:
      var sum = 0.0
      for step in 0...10 {
        let threshold = Double(step) * 0.1
        var best = 0.0
        for (r, p) in zip(recall, precision) where r >= threshold { best = max(best, p) }
        sum += best / 11
      }
      return sum
    case .area:
      let levels = [0.0] + recall + [1.0]
      var envelope = [0.0] + precision + [0.0]
      for i in stride(from: envelope.count - 2, through: 0, by: -1) { envelope[i] = max(envelope[i], envelope[i + 1]) }
      var area = 0.0
      for i in 0..<(levels.count - 1) where levels[i + 1] != levels[i] {
        area += (levels[i + 1] - levels[i]) * envelope[i + 1]
      }
      return area
    }
  }
}
