/// Where a tensor's elements sit inside a flat storage: PyTorch's size, stride and offset.
///
/// PyTorch saves a view (a transposed weight, a row of a larger tensor, an expanded vector with
/// stride 0) as its whole storage plus this layout. Reading it back means copying the addressed
/// elements into a fresh row-major buffer; the layout is validated first so that a hostile file
/// cannot make the copy read outside the storage.
struct StridedLayout {
  let shape: [Int]
  let strides: [Int]
  let offset: Int
  let count: Int

  /// Validates a layout against a storage of `storageCount` elements; `describe` names the tensor.
  init(shape: [Int], strides: [Int], offset: Int, storageCount: Int, describe: () -> String) throws(StridedLayoutError) {
    guard shape.count == strides.count else {
      throw StridedLayoutError("\(describe()) has \(shape.count) sizes but \(strides.count) strides")
    }
    guard offset >= 0 else { throw StridedLayoutError("\(describe()) has negative storage offset \(offset)") }
    var count = 1
    // The row-major copy needs strides up to this product even when some size is zero.
    var extent = 16
    var lastElement = offset
    for (size, stride) in zip(shape, strides) {
      guard size >= 0 else { throw StridedLayoutError("\(describe()) has negative size \(size) in shape \(shape)") }
      guard stride >= 0 else { throw StridedLayoutError("\(describe()) has negative stride \(stride) in \(strides)") }
      let (product, overflow) = count.multipliedReportingOverflow(by: size)
      let (product2, overflow2) = extent.multipliedReportingOverflow(by: max(size, 1))
      guard !overflow, !overflow2 else { throw StridedLayoutError("\(describe()) has too many elements: shape \(shape)") }
      count = product
      extent = product2
      if size > 0 {
        let (reach, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
        let (sum, overflow2) = lastElement.addingReportingOverflow(reach)
        guard !overflow1, !overflow2 else {
          throw StridedLayoutError("\(describe()) has a layout beyond any storage: shape \(shape), strides \(strides)")
        }
        lastElement = sum
      }
    }
    if count > 0, lastElement >= storageCount {
      throw StridedLayoutError(
        "\(describe()) (shape \(shape), strides \(strides), offset \(offset)) reaches element \(lastElement) of a storage of \(storageCount) elements"
      )
    }
    self.shape = shape
    self.strides = strides
    self.offset = offset
    self.count = count
  }

  /// Whether the elements are one row-major run, so they can be copied as a single block.
  var isContiguous: Bool {
    var expected = 1
    for (size, stride) in zip(shape, strides).reversed() where size != 1 {
      if stride != expected { return false }
      expected *= size
    }
    return true
  }

  /// Copies the addressed elements of `storage`, row-major, into `destination`.
  func gather(from storage: UnsafeRawBufferPointer, elementSize: Int, into destination: UnsafeMutableRawBufferPointer) {
    precondition(destination.count == count * elementSize)
    guard count > 0 else { return }
    if isContiguous {
      destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[(offset * elementSize)...].prefix(count * elementSize)))
      return
    }
    let rank = shape.count
    var index = [Int](repeating: 0, count: rank)
    var element = offset
    let source = storage.baseAddress!
    let target = destination.baseAddress!
    for n in 0..<count {
      (target + n * elementSize).copyMemory(from: source + element * elementSize, byteCount: elementSize)
      // Advance the multi-index like an odometer, keeping `element` in step.
      var axis = rank - 1
      while axis >= 0 {
        index[axis] += 1
        element += strides[axis]
        if index[axis] < shape[axis] { break }
        element -= strides[axis] * shape[axis]
        index[axis] = 0
        axis -= 1
      }
    }
  }
}

struct StridedLayoutError: Error {
  let message: String
  init(_ message: String) { self.message = message }
}
