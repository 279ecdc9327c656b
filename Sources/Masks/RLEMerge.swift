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
    var leftA = a[0], leftB = b[0]
    var nextA = 1, nextB = 1
    var inA = false, inB = false, value = false
    var pending: UInt32 = 0
    var remaining = true
    while remaining {
      let step = min(leftA, leftB)
      pending &+= step
      leftA -= step
      if leftA == 0 && nextA < a.count {
        leftA = a[nextA]
        nextA += 1
        inA.toggle()
      }
      leftB -= step
      if leftB == 0 && nextB < b.count {
        leftB = b[nextB]
        nextB += 1
        inB.toggle()
      }
      remaining = leftA &+ leftB > 0
      let previous = value
      value = keepsPixel(inA, inB)
      // A run ends where the merged value flips, and the last one where both lists run out.
      if value != previous || !remaining {
        output.append(pending)
        pending = 0
      }
    }
    return output
  }
}
