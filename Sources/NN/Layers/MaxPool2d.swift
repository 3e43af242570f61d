import Tensor

/// Max pooling over `kernelSize × kernelSize` windows, PyTorch `nn.MaxPool2d` (no padding or dilation, floor
/// mode). Input `[N, C, H, W]`, output `[N, C, Ho, Wo]` with `Ho = (H − k) / stride + 1`. Ties go to the
/// first maximum in scan order and NaN wins, like PyTorch; backward routes each gradient to that element.
public final class MaxPool2d: Layer {
  public let kernelSize: Int
  public let stride: Int
  private var inputShape: [Int] = []
  /// Per output element, the flat index of its maximum within the input plane.
  private var argmax: [Int32] = []
  private var output: Tensor?
  private var dInput: Tensor?

  /// `stride` defaults to `kernelSize`.
  public init(kernelSize: Int = 2, stride: Int? = nil) {
    precondition(kernelSize > 0 && (stride ?? 1) > 0, "bad MaxPool2d")
    self.kernelSize = kernelSize
    self.stride = stride ?? kernelSize
  }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(input.shape.count == 4, "MaxPool2d expects [N, C, H, W], got \(input.shape)")
    let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (k, s) = (kernelSize, stride)
    precondition(h >= k && w >= k, "MaxPool2d kernel \(k) larger than \(h)×\(w)")
    let ho = (h - k) / s + 1
    let wo = (w - k) / s + 1
    inputShape = input.shape
    let y = Tensor.reuse(output, shape: [n, c, ho, wo])
    output = y
    let planes = n * c
    let outCount = planes * ho * wo
    if argmax.count != outCount { argmax = [Int32](repeating: 0, count: outCount) }
    argmax.withUnsafeMutableBufferPointer { idx in
      for p in 0..<planes {
        let src = input.pointer + p * h * w
        let dst = y.pointer + p * ho * wo
        let arg = idx.baseAddress! + p * ho * wo
        for oh in 0..<ho {
          for ow in 0..<wo {
            var best = oh * s * w + ow * s
            var bestValue = src[best]
            for ki in 0..<k {
              let rowStart = (oh * s + ki) * w + ow * s
              for kj in 0..<k {
                let v = src[rowStart + kj]
                if v > bestValue || v.isNaN {
                  bestValue = v
                  best = rowStart + kj
                }
              }
            }
            dst[oh * wo + ow] = bestValue
            arg[oh * wo + ow] = Int32(best)
          }
        }
      }
    }
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("MaxPool2d.backward before forward") }
    precondition(dOutput.shape == y.shape, "MaxPool2d dOutput \(dOutput.shape), expected \(y.shape)")
    let dx = Tensor.reuse(dInput, shape: inputShape)
    dInput = dx
    dx.fill(0)
    let planes = inputShape[0] * inputShape[1]
    let plane = inputShape[2] * inputShape[3]
    let outPlane = y.shape[2] * y.shape[3]
    argmax.withUnsafeBufferPointer { idx in
      for p in 0..<planes {
        let g = dOutput.pointer + p * outPlane
        let d = dx.pointer + p * plane
        for o in 0..<outPlane { d[Int(idx[p * outPlane + o])] += g[o] }
      }
    }
    return dx
  }
}
