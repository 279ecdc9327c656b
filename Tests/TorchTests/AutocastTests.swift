import Testing

@testable import Torch

@Suite struct AutocastTests {
  @Test func matrixProductsRunInBFloat16Inside() {
    let a = Tensor.ones([4, 8])
    let b = Tensor.ones([8, 2])
    #expect(!isAutocastEnabled)
    let inside = withAutocast(.bfloat16) { a.matmul(b) }
    #expect(inside.dtype == .bfloat16)
    #expect(inside.to(.float32).toArray(Float.self) == [Float](repeating: 8, count: 8))
    #expect(!isAutocastEnabled)
    #expect(a.matmul(b).dtype == .float32)
  }

  @Test func reductionsAndElementwiseOpsKeepTheirType() {
    let x = Tensor.ones([3])
    let y = withAutocast { (x * 2).sum() }
    #expect(y.dtype == .float32)
  }

  @Test func nestedRegionsRestoreTheOuterState() {
    withAutocast(.bfloat16) {
      withAutocast(.bfloat16) { #expect(isAutocastEnabled) }
      #expect(isAutocastEnabled)
    }
    #expect(!isAutocastEnabled)
  }

  @Test func regionsWithoutAutocastComputeInFloat32AndRestoreIt() {
    let a = Tensor.ones([4, 8])
    let b = Tensor.ones([8, 2])
    withAutocast(.bfloat16) {
      let inner = withoutAutocast { a.matmul(b) }
      #expect(inner.dtype == .float32)
      #expect(isAutocastEnabled)
      #expect(a.matmul(b).dtype == .bfloat16)
    }
    #expect(!isAutocastEnabled)
    // Outside autocast it changes nothing.
    #expect(withoutAutocast { a.matmul(b) }.dtype == .float32)
    #expect(!isAutocastEnabled)
  }

  @Test func gradientsReachFloat32Parameters() {
    let w = Tensor.ones([2, 2]).requiringGrad()
    let x = Tensor.ones([3, 2])
    let loss = withAutocast { x.matmul(w).sum() }
    loss.backward()
    #expect(w.grad?.dtype == .float32)
    #expect(w.grad?.toArray(Float.self) == [3, 3, 3, 3])
  }
}
