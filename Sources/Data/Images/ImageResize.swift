extension Image {
  /// The image resized with bilinear interpolation and half-pixel centres (what
  /// `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` computes, without
  /// antialiasing), in 8-bit fixed point.
  ///
  /// Separable: each source row needed is interpolated horizontally once and kept while the
  /// output rows that blend it are written, so an upscale touches each source row once. The
  /// loops work on raw pointers so the vertical blend vectorises; this is the loader's hottest
  /// code.
  public func resized(width outWidth: Int, height outHeight: Int) -> Image {
    precondition(outWidth > 0 && outHeight > 0, "Image.resized: size \(outWidth)x\(outHeight)")
    if outWidth == width && outHeight == height { return self }
    let c = channels
    let (xIndex, xWeight) = Image.bilinearTaps(from: width, to: outWidth)
    let (yIndex, yWeight) = Image.bilinearTaps(from: height, to: outHeight)
    // Byte offsets of the two source pixels of each output column.
    let left = xIndex.map { $0 * c }
    let right = xIndex.map { ($0 + 1 < width ? $0 + 1 : $0) * c }
    let rowLength = outWidth * c
    let rows = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * rowLength)
    defer { rows.deallocate() }
    var rowA = rows
    var rowB = rows + rowLength
    var rowAIndex = -1
    var rowBIndex = -1
    let output = [UInt8](unsafeUninitializedCapacity: outWidth * outHeight * c) { buffer, initialized in
      let out = buffer.baseAddress!
      pixels.withUnsafeBufferPointer { inputBuffer in
        let input = inputBuffer.baseAddress!
        left.withUnsafeBufferPointer { left in
          right.withUnsafeBufferPointer { right in
            xWeight.withUnsafeBufferPointer { xw in
              // Values scaled by 256.
              func horizontal(_ sourceRow: Int, into row: UnsafeMutablePointer<Int32>) {
                let source = input + sourceRow * width * c
                if c == 3 {
                  for x in 0..<outWidth {
                    let p = source + left[x]
                    let q = source + right[x]
                    let w1 = xw[x]
                    let w0 = 256 &- w1
                    let r = row + x &* 3
                    r[0] = Int32(p[0]) &* w0 &+ Int32(q[0]) &* w1
                    r[1] = Int32(p[1]) &* w0 &+ Int32(q[1]) &* w1
                    r[2] = Int32(p[2]) &* w0 &+ Int32(q[2]) &* w1
                  }
                } else {
                  for x in 0..<outWidth {
                    let p = source + left[x]
                    let q = source + right[x]
                    let w1 = xw[x]
                    let w0 = 256 &- w1
                    for k in 0..<c { row[x &* c &+ k] = Int32(p[k]) &* w0 &+ Int32(q[k]) &* w1 }
                  }
                }
              }
              for y in 0..<outHeight {
                let y0 = yIndex[y]
                let y1 = min(y0 + 1, height - 1)
                // Reuse rows computed for the previous output row (swap when the window slides).
                if rowAIndex != y0 {
                  if rowBIndex == y0 {
                    swap(&rowA, &rowB)
                    swap(&rowAIndex, &rowBIndex)
                  } else {
                    horizontal(y0, into: rowA)
                    rowAIndex = y0
                  }
                }
                if rowBIndex != y1 {
                  horizontal(y1, into: rowB)
                  rowBIndex = y1
                }
                let w1 = yWeight[y]
                let w0 = 256 &- w1
                let o = out + y * rowLength
                let a = rowA
                let b = rowB
                for i in 0..<rowLength {
                  o[i] = UInt8(truncatingIfNeeded: (a[i] &* w0 &+ b[i] &* w1 &+ 32768) &>> 16)
                }
              }
            }
          }
        }
      }
      initialized = outWidth * outHeight * c
    }
    return Image(width: outWidth, height: outHeight, channels: c, pixels: output)
  }

  /// For each output position: the left/top source index and the weight (0...256) of the next.
  static func bilinearTaps(from source: Int, to target: Int) -> ([Int], [Int32]) {
    let scale = Double(source) / Double(target)
    var indices = [Int](repeating: 0, count: target)
    var weights = [Int32](repeating: 0, count: target)
    for i in 0..<target {
      let position = max(0, (Double(i) + 0.5) * scale - 0.5)
      let index = min(Int(position), source - 1)
      indices[i] = index
      weights[i] = index >= source - 1 ? 0 : Int32(((position - Double(index)) * 256).rounded())
    }
    return (indices, weights)
  }
}
