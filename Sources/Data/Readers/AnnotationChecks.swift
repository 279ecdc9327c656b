/// The annotation checks every reader applies, and the decision the policy makes.
struct AnnotationChecks {
  let file: String
  let policy: BadDataPolicy
  private(set) var issues: [DataIssue] = []

  init(file: String, policy: BadDataPolicy) {
    self.file = file
    self.policy = policy
  }

  mutating func report(_ kind: DataIssue.Kind, record: String, detail: String) {
    issues.append(DataIssue(kind, file: file, record: record, detail: detail))
  }

  /// The box to keep for an instance, or nil (after reporting) when it must be dropped.
  /// A box reaching outside the image is reported and clipped; one that is empty (after clipping)
  /// is reported and dropped.
  mutating func checkedBox(_ box: Box, imageWidth: Int, imageHeight: Int, record: String) -> Box? {
    guard box.x1.isFinite, box.y1.isFinite, box.x2.isFinite, box.y2.isFinite, box.isNonDegenerate() else {
      report(.degenerateBox, record: record, detail: "box \(format(box)) has width \(box.width), height \(box.height)")
      return nil
    }
    guard imageWidth > 0, imageHeight > 0 else { return box }
    if box.isOutside(width: imageWidth, height: imageHeight) {
      report(.boxOutsideImage, record: record, detail: "box \(format(box)) reaches outside the \(imageWidth)x\(imageHeight) image")
      let clipped = box.clipped(width: imageWidth, height: imageHeight)
      return clipped.isNonDegenerate() ? clipped : nil
    }
    // Within the 1-pixel tolerance: clip silently (rounding in annotation tools).
    return box.clipped(width: imageWidth, height: imageHeight)
  }

  /// Whether an instance's polygons can be kept, after reporting why not. Each needs an even
  /// number of coordinates, at least 6. Corners more than the image's size outside it are
  /// refused too: rasterising walks the whole outline on a grid five times finer than the
  /// pixels, so such a polygon costs time and memory out of proportion to its image (gigabytes
  /// in the evaluation side's fuzz harness), and one beyond Int on that grid traps.
  mutating func checkPolygons(_ polygons: [[Double]], imageWidth: Int, imageHeight: Int, record: String) -> Bool {
    if let bad = polygons.first(where: { $0.count < 6 || $0.count % 2 != 0 }) {
      report(.invalidRecord, record: record, detail: "polygon with \(bad.count) coordinates (needs an even number, at least 6)")
      return false
    }
    let (w, h) = (Double(imageWidth), Double(imageHeight))
    for polygon in polygons {
      for corner in stride(from: 0, to: polygon.count, by: 2)
      where !(-w...2 * w).contains(polygon[corner]) || !(-h...2 * h).contains(polygon[corner + 1]) {
        report(
          .invalidRecord, record: record,
          detail: "polygon corner (\(polygon[corner]), \(polygon[corner + 1])) is more than the image's size (\(imageWidth)x\(imageHeight)) outside it")
        return false
      }
    }
    return true
  }

  /// Throws the collected issues under the `fail` policy.
  func finish() throws -> [DataIssue] {
    if policy == .fail, !issues.isEmpty { throw DataValidationError(issues: issues) }
    return issues
  }

  private func format(_ b: Box) -> String { "[\(b.x1), \(b.y1), \(b.x2), \(b.y2)]" }
}
