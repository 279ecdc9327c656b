extension Image {
  /// The image resized with bilinear interpolation and half-pixel centres (what
  /// `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` computes, without
  /// antialiasing), in 8-bit fixed point.
  ///
  /// Separable: each source row needed is interpolated horizontally once and kept while the
  /// output rows that blend it are written, so an upscale touches each source row once.
  public func resized(width outWidth: Int, height outHeight: Int) -> Image {
    precondition(outWidth > 0 && outHeight > 0, "Image.resized: size \(outWidth)x\(outHeight)")
    if outWidth == width && outHeight == height { return self }
    let c = channels
    let (xIndex, xWeight) = Image.bilinearTaps(from: width, to: outWidth)
    let (yIndex, yWeight) = Image.bilinearTaps(from: height, to: outHeight)
    let rowLength = outWidth * c
    var output = [UInt8](repeating: 0, count: outWidth * outHeight * c)
    // Two horizontally interpolated rows (values scaled by 256), reused while they are needed.
    var rowA = [Int32](repeating: 0, count: rowLength)
    var rowB = [Int32](repeating: 0, count: rowLength)
    var rowAIndex = -1
    var rowBIndex = -1
    pixels.withUnsafeBufferPointer { input in
      output.withUnsafeMutableBufferPointer { out in
        xIndex.withUnsafeBufferPointer { xi in
          xWeight.withUnsafeBufferPointer { xw in
            func horizontal(_ sourceRow: Int, into row: UnsafeMutableBufferPointer<Int32>) {
              let base = sourceRow * width * c
              for x in 0..<outWidth {
                let i0 = base + xi[x] * c
                let i1 = i0 + (xi[x] + 1 < width ? c : 0)
                let w1 = xw[x]
                let w0 = 256 - w1
                for k in 0..<c {
                  row[x * c + k] = Int32(input[i0 + k]) &* w0 &+ Int32(input[i1 + k]) &* w1
                }
              }
            }
            for y in 0..<outHeight {
              let y0 = yIndex[y]
              let y1 = min(y0 + 1, height - 1)
              // Reuse rows computed for the previous output row (swap when the window slides by one).
              if rowAIndex != y0 {
                if rowBIndex == y0 {
                  swap(&rowA, &rowB)
                  swap(&rowAIndex, &rowBIndex)
                } else {
                  rowA.withUnsafeMutableBufferPointer { horizontal(y0, into: $0) }
                  rowAIndex = y0
                }
              }
              if rowBIndex != y1 {
                rowB.withUnsafeMutableBufferPointer { horizontal(y1, into: $0) }
                rowBIndex = y1
              }
              let w1 = yWeight[y]
              let w0 = 256 - w1
              let base = y * rowLength
              rowA.withUnsafeBufferPointer { a in
                rowB.withUnsafeBufferPointer { b in
                  for i in 0..<rowLength {
                    out[base + i] = UInt8(truncatingIfNeeded: (a[i] &* w0 &+ b[i] &* w1 &+ 32768) >> 16)
                  }
                }
              }
            }
          }
        }
      }
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
