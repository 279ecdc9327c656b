internal import CTorch
import Torch

/// Deformable convolution (Dai et al. 2017; with `mask`, the modulated v2 of Zhu et al. 2019),
/// torchvision's `deform_conv2d`: every kernel tap of every output position samples the input
/// bilinearly at its regular place moved by its own offset, scaled by its mask value.
/// Differentiable with respect to all five tensors; bfloat16 and half tensors are computed in
/// float32 and converted back.
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - offset: `[N, 2·G·kh·kw, Ho, Wo]`: `(dy, dx)` pairs for each of `G` offset groups (which
///     split the channels) and kernel tap (row-major over the kernel).
///   - mask: `[N, G·kh·kw, Ho, Wo]` (v2), or nil (v1).
///   - weight: `[O, C/groups, kh, kw]`.
public func deformableConvolution2D(
  _ input: Tensor, offset: Tensor, mask: Tensor? = nil, weight: Tensor, bias: Tensor? = nil,
  stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
) -> Tensor {
  let s = [Int64(stride.0), Int64(stride.1)]
  let p = [Int64(padding.0), Int64(padding.1)]
  let d = [Int64(dilation.0), Int64(dilation.1)]
  return OperationTimer.shared.measure("deform_conv") {
    input.withHandle { x in
      offset.withHandle { o in
        weight.withHandle { w in
          withOptionalHandle(mask) { m in
            withOptionalHandle(bias) { b in
              Tensor.wrapping(operation: "deformableConvolution2D") {
                ct_deform_conv2d(x, o, m, w, b, s, p, d, Int64(groups), $0)
              }
            }
          }
        }
      }
    }
  }
}

/// Runs `body` with the tensor's handle, or nil, while the tensor is alive.
private func withOptionalHandle<R>(_ tensor: Tensor?, _ body: (OpaquePointer?) -> R) -> R {
  guard let tensor else { return body(nil) }
  return tensor.withHandle { body($0) }
}
