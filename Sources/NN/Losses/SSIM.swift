import Tensor

/// Single-scale structural similarity per sample, for evaluation (no gradient).
///
/// Shapes: both images [N, C, H, W] with H, W ≥ `windowSize`. Pixels are mapped from `inputRange` to [0, 1]
/// (data range 1); the Gaussian window is applied per channel without padding, K1 = 0.01, K2 = 0.03, and the
/// SSIM map is averaged over channels and valid positions (pytorch_msssim's `ssim(..., size_average=False)`).
/// SSIM of identical images is 1.
public final class SSIM {
  public let windowSize: Int
  public let sigma: Float
  public let inputRange: ClosedRange<Float>
  private let kernel: SSIMKernel
  /// One plane of each image mapped to [0, 1].
  private var mappedX: Tensor?
  private var mappedY: Tensor?

  public init(windowSize: Int = 7, sigma: Float = 1.5, inputRange: ClosedRange<Float> = -1...1) {
    precondition(inputRange.upperBound > inputRange.lowerBound, "SSIM: empty input range \(inputRange)")
    self.windowSize = windowSize
    self.sigma = sigma
    self.inputRange = inputRange
    kernel = SSIMKernel(windowSize: windowSize, sigma: sigma)
  }

  /// Mean SSIM of each of the N image pairs.
  public func callAsFunction(_ x: Tensor, _ y: Tensor) -> [Float] {
    precondition(
      x.shape == y.shape && x.shape.count == 4, "SSIM: images must be [N, C, H, W], got \(x.shape), \(y.shape)")
    let n = x.shape[0]
    let c = x.shape[1]
    let h = x.shape[2]
    let w = x.shape[3]
    let plane = h * w
    let mx = Tensor.reuse(mappedX, shape: [h, w])
    let my = Tensor.reuse(mappedY, shape: [h, w])
    mappedX = mx
    mappedY = my
    var result = [Float](repeating: 0, count: n)
    for i in 0..<n {
      var sum: Double = 0
      for ch in 0..<c {
        let offset = (i * c + ch) * plane
        mapToUnitRange(x.pointer + offset, plane, inputRange, mx.pointer)
        mapToUnitRange(y.pointer + offset, plane, inputRange, my.pointer)
        sum += kernel.statistics(x: mx.pointer, y: my.pointer, height: h, width: w, target: .none, partials: nil).ssim
      }
      result[i] = Float(sum / Double(c))
    }
    return result
  }
}

/// dst = (src − range.lowerBound) / (range.upperBound − range.lowerBound) for `n` elements.
@inline(__always)
func mapToUnitRange(
  _ src: UnsafePointer<Float>, _ n: Int, _ range: ClosedRange<Float>, _ dst: UnsafeMutablePointer<Float>
) {
  let lo = range.lowerBound
  let inv = 1 / (range.upperBound - range.lowerBound)
  for j in 0..<n { dst[j] = (src[j] - lo) * inv }
}
