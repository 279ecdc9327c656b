import Foundation

/// The outcome of a COCO evaluation: pycocotools' `eval` arrays and `stats`.
public struct COCOEvaluation: Sendable {
  public let iouType: IoUType
  public let parameters: COCOParameters
  /// Evaluated images and categories, ascending; `k` in the arrays indexes `categoryIDs`.
  public let imageIDs: [Int]
  public let categoryIDs: [Int]
  public let categoryNames: [String]
  /// `[T, R, K, A, M]` (IoU threshold, recall threshold, category, area range, detection cap);
  /// -1 where a category has no ground truth that counts. Kept for precision-recall plots.
  public let precision: MetricArray
  /// `[T, K, A, M]`, the recall reached with all detections up to the cap; -1 as above.
  public let recall: MetricArray
  /// `[T, R, K, A, M]`, the detection score at which each precision value is reached.
  public let scores: MetricArray

  /// The twelve standard numbers, over all categories.
  public var stats: COCOStats {
    summarize(categories: nil)
  }

  /// The twelve numbers for one category, nil if the category was not evaluated.
  public func stats(forCategory id: Int) -> COCOStats? {
    categoryIDs.firstIndex(of: id).map { summarize(categories: [$0]) }
  }

  /// AP at IoU 0.50:0.95, all areas, largest detection cap, for each category id (-1 where the
  /// category has no ground truth), the per-class table detectron2 prints.
  public var averagePrecisionByCategory: [Int: Double] {
    var result: [Int: Double] = [:]
    for (k, id) in categoryIDs.enumerated() {
      result[id] = mean(precision: true, iouThreshold: nil, area: "all", maxDetections: parameters.maxDetections.last!, categories: [k])
    }
    return result
  }

  /// The table pycocotools' `summarize()` prints, line for line.
  public var summaryTable: String {
    stats.table(parameters: parameters)
  }

  private func summarize(categories: [Int]?) -> COCOStats {
    COCOStats(
      values: COCOStats.rows(parameters).map { row in
        mean(
          precision: row.isPrecision, iouThreshold: row.iouThreshold, area: row.area, maxDetections: row.maxDetections,
          categories: categories)
      })
  }

  /// pycocotools' `_summarize`: the mean over the selected entries that are not -1, or -1 when
  /// none is.
  private func mean(precision usePrecision: Bool, iouThreshold: Double?, area: String, maxDetections: Int, categories: [Int]?)
    -> Double
  {
    let thresholds = parameters.iouThresholds.indices.filter { iouThreshold == nil || parameters.iouThresholds[$0] == iouThreshold }
    let areas = parameters.areaRanges.indices.filter { parameters.areaRanges[$0].label == area }
    let caps = parameters.maxDetections.indices.filter { parameters.maxDetections[$0] == maxDetections }
    let ks = categories ?? Array(categoryIDs.indices)
    var sum = 0.0
    var count = 0
    let recallCount = usePrecision ? parameters.recallThresholds.count : 1
    for t in thresholds {
      for r in 0..<recallCount {
        for k in ks {
          for a in areas {
            for m in caps {
              let value = usePrecision ? precision.values[precision.offset(t, r, k, a, m)] : recall.values[recall.offset(t, k, a, m)]
              if value > -1 {
                sum += value
                count += 1
              }
            }
          }
        }
      }
    }
    return count == 0 ? -1 : sum / Double(count)
  }
}

/// The twelve COCO summary numbers, as fractions; -1 where a number is undefined (no ground
/// truth in that size range, say).
public struct COCOStats: Hashable, Sendable {
  public static let names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

  /// In the order of `names`, which is pycocotools' `stats` order.
  public let values: [Double]

  public init(values: [Double]) {
    precondition(values.count == 12, "COCO has twelve summary numbers")
    self.values = values
  }

  public var ap: Double { values[0] }
  public var ap50: Double { values[1] }
  public var ap75: Double { values[2] }
  public var apSmall: Double { values[3] }
  public var apMedium: Double { values[4] }
  public var apLarge: Double { values[5] }
  public var ar1: Double { values[6] }
  public var ar10: Double { values[7] }
  public var ar100: Double { values[8] }
  public var arSmall: Double { values[9] }
  public var arMedium: Double { values[10] }
  public var arLarge: Double { values[11] }

  public subscript(name: String) -> Double? {
    Self.names.firstIndex(of: name).map { values[$0] }
  }

  /// One JSON object with the keys of `names`, in that order.
  public var json: String {
    let fields = zip(Self.names, values).map { name, value in "\"\(name)\": \(value)" }
    return "{" + fields.joined(separator: ", ") + "}"
  }

  /// What each of the twelve numbers averages, as pycocotools' `_summarizeDets` asks for it.
  struct Row {
    var isPrecision: Bool
    var iouThreshold: Double?
    var area: String
    var maxDetections: Int
  }

  /// The first row keeps `_summarize`'s default of 100 detections even when `maxDets` differs (it
  /// is then -1, as in pycocotools); the others take `maxDets[0]`, `[1]` and `[2]`.
  static func rows(_ parameters: COCOParameters) -> [Row] {
    let caps = parameters.maxDetections
    let cap = { (index: Int) in caps[min(index, caps.count - 1)] }
    return [
      Row(isPrecision: true, iouThreshold: nil, area: "all", maxDetections: 100),
      Row(isPrecision: true, iouThreshold: 0.5, area: "all", maxDetections: cap(2)),
      Row(isPrecision: true, iouThreshold: 0.75, area: "all", maxDetections: cap(2)),
      Row(isPrecision: true, iouThreshold: nil, area: "small", maxDetections: cap(2)),
      Row(isPrecision: true, iouThreshold: nil, area: "medium", maxDetections: cap(2)),
      Row(isPrecision: true, iouThreshold: nil, area: "large", maxDetections: cap(2)),
      Row(isPrecision: false, iouThreshold: nil, area: "all", maxDetections: cap(0)),
      Row(isPrecision: false, iouThreshold: nil, area: "all", maxDetections: cap(1)),
      Row(isPrecision: false, iouThreshold: nil, area: "all", maxDetections: cap(2)),
      Row(isPrecision: false, iouThreshold: nil, area: "small", maxDetections: cap(2)),
      Row(isPrecision: false, iouThreshold: nil, area: "medium", maxDetections: cap(2)),
      Row(isPrecision: false, iouThreshold: nil, area: "large", maxDetections: cap(2)),
    ]
  }

  /// pycocotools' summary lines (`' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'`).
  public func table(parameters: COCOParameters = .standard) -> String {
    let first = parameters.iouThresholds.first!, last = parameters.iouThresholds.last!
    let allIoUs = String(format: "%0.2f:%0.2f", first, last)
    var lines: [String] = []
    for (row, value) in zip(Self.rows(parameters), values) {
      let (isPrecision, area, cap) = (row.isPrecision, row.area, row.maxDetections)
      let iou = row.iouThreshold.map { String(format: "%0.2f", $0) } ?? allIoUs
      let title = (isPrecision ? "Average Precision" : "Average Recall").padding(toLength: 18, withPad: " ", startingAt: 0)
      let kind = isPrecision ? "(AP)" : "(AR)"
      let iouField = iou.padding(toLength: max(9, iou.count), withPad: " ", startingAt: 0)
      let areaField = String(repeating: " ", count: max(0, 6 - area.count)) + area
      let capText = String(cap)
      let capField = String(repeating: " ", count: max(0, 3 - capText.count)) + capText
      lines.append(" \(title) \(kind) @[ IoU=\(iouField) | area=\(areaField) | maxDets=\(capField) ] = \(String(format: "%0.3f", value))")
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
