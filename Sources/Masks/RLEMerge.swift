extension RLE {
  /// The pixels set in any of the masks (pycocotools' `merge(rles, intersect=0)`).
  public static func union(_ masks: [RLE]) -> RLE {
    merged(masks, keepsPixel: { $0 || $1 })
  }

  /// The pixels set in all of the masks (pycocotools' `merge(rles, intersect=1)`).
  public static func intersection(_ masks: [RLE]) -> RLE {
    merged(masks, keepsPixel: { $0 && $1 })
  }

  /// Folds the masks pairwise by walking both run lists at once; no pixel buffer is built, so the
  /// cost is proportional to the number of runs, not the image size.
  private static func merged(_ masks: [RLE], keepsPixel: (Bool, Bool) -> Bool) -> RLE {
    precondition(!masks.isEmpty, "merging needs at least one mask")
    var result = masks[0]
    for other in masks.dropFirst() {
      precondition(
        other.height == result.height && other.width == result.width,
        "merged masks must have one size: \(result.height)×\(result.width) and \(other.height)×\(other.width)")
      // Run lists of different lengths would leave one walk stranded; masks from files are
      // checked with `coversImage` first, so this is a programming error.
      precondition(runTotal(other.counts) == runTotal(result.counts), "merged masks must cover the same pixels")
      result = RLE(height: result.height, width: result.width, counts: mergeRuns(result.counts, other.counts, keepsPixel))
    }
    return result
  }

  private static func runTotal(_ counts: [UInt32]) -> Int {
    counts.reduce(0) { $0 + Int($1) }
  }

  private static func mergeRuns(_ a: [UInt32], _ b: [UInt32], _ keepsPixel: (Bool, Bool) -> Bool) -> [UInt32] {
    if a.isEmpty || b.isEmpty { return a.isEmpty ? b : a }
    var output: [UInt32] = []
    output.reserveCapacity(a.count + b.count)
    // Runs alternate background/foreground starting with background: a run ends where the merged
    // value flips.
    var value = false
    var pending: UInt32 = 0
    forEachJointRun(a, b) { step, inA, inB in
      let merged = keepsPixel(inA, inB)
      if merged != value {
        output.append(pending)
        pending = 0
        value = merged
      }
      pending &+= step
    }
    output.append(pending)
    return output
  }
}
