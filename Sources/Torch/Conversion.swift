import CTorch

extension Tensor {
  /// The tensor converted to `dtype` (itself when it already has that dtype).
  public func to(_ dtype: DType) -> Tensor {
    let (type, index) = device.code
    return Tensor.make("to(\(dtype))") { ct_to(handle, dtype.rawValue, type, index, 0, $0) }
  }

  /// The tensor moved to `device` (itself when it is already there).
  public func to(_ device: Device) -> Tensor {
    let (type, index) = device.code
    return Tensor.make("to(\(device))") { ct_to(handle, dtype.rawValue, type, index, 0, $0) }
  }

  /// The tensor moved to `device` and converted to `dtype` in one step.
  public func to(_ device: Device, _ dtype: DType) -> Tensor {
    let (type, index) = device.code
    return Tensor.make("to(\(device), \(dtype))") { ct_to(handle, dtype.rawValue, type, index, 0, $0) }
  }

  /// A row-major copy, or `self` when already row-major.
  public func contiguous() -> Tensor { Tensor.make("contiguous") { ct_contiguous(handle, 0, $0) } }

  /// An NCHW tensor stored channels-last (NHWC in memory), the layout oneDNN convolutions prefer.
  public func channelsLast() -> Tensor { Tensor.make("channelsLast") { ct_contiguous(handle, 1, $0) } }

  /// A copy with its own memory that stays in the autograd graph.
  public func clone() -> Tensor { Tensor.make("clone") { ct_clone(handle, $0) } }

  /// Makes this tensor hold `source`'s data, dtype and device while staying the same object, so
  /// optimizers and modules that hold it see the change (PyTorch's `param.data = ...`).
  public func replaceData(with source: Tensor) {
    check("replaceData", ct_set_data(handle, source.handle))
  }

  /// The same data cut out of the autograd graph.
  public func detached() -> Tensor { Tensor.make("detached") { ct_detach(handle, $0) } }
}
