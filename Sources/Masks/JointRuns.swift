/// Walks two run-length lists (background first) in lockstep, calling `body` once per stretch of
/// pixels over which neither mask changes, with the stretch's length and whether each mask is set
/// there. The cost follows the number of runs, never the image size.
///
/// Lists of different totals stop where the shorter one ends, rather than spinning on zero-length
/// steps.
@inline(__always)
func forEachJointRun(_ a: [UInt32], _ b: [UInt32], _ body: (_ length: UInt32, _ inA: Bool, _ inB: Bool) -> Void) {
  a.withUnsafeBufferPointer { a in
    b.withUnsafeBufferPointer { b in
      if a.isEmpty || b.isEmpty { return }
      var leftA = a[0], leftB = b[0]
      var nextA = 1, nextB = 1
      var inA = false, inB = false
      // Checked after each step: both lists may start with a zero-length background run.
      repeat {
        let step = Swift.min(leftA, leftB)
        body(step, inA, inB)
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
        if (leftA == 0 && nextA == a.count && leftB > 0) || (leftB == 0 && nextB == b.count && leftA > 0) { return }
      } while leftA &+ leftB > 0
    }
  }
}
