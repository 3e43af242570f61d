import Foundation
import Tensor

/// Multi-scale structural similarity per sample (Wang, Simoncelli, Bovik 2003), sized for small images.
///
/// Shapes: both images [N, C, H, W]. Pixels are mapped from `inputRange` to [0, 1] (data range 1). At each
/// scale a Gaussian window (`windowSize`, `sigma`) is applied per channel without padding, with K1 = 0.01,
/// K2 = 0.03. Scales 1…S−1 contribute the mean contrast-structure term, the coarsest scale the mean SSIM;
/// between scales both images are 2×2 average-pooled with padding (H % 2, W % 2) as in pytorch_msssim. Each
/// value is clamped below at 1e-6 (zero gradient there) and combined as ∏ v_s^{w_s}, with w = the first S
/// standard MS-SSIM weights renormalised to sum 1. How channels are averaged is `channelReduction`; the
/// default, `.afterProduct`, is pytorch_msssim's order (checked against Tests/Fixtures/losses.h5).
/// Every scale must be at least `windowSize` on each side.
public final class MSSSIM {
  /// Where the mean over channels happens.
  public enum ChannelReduction: Sendable {
    /// v_s = mean over channels of the map means, then ∏ v_s^{w_s}.
    case beforeProduct
    /// ∏ v_{s,c}^{w_s} for each channel, then the mean over channels (pytorch_msssim's `ms_ssim`; the default).
    case afterProduct
  }

  /// The five weights of the original MS-SSIM, finest scale first.
  public static let standardWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
  /// Lower clamp of each scale's value before the weighted product.
  public static let minimumValue: Double = 1e-6

  /// The project's default number of scales: 3 when both sides are at least 64 pixels, else 2 (28×28 MNIST).
  public static func defaultScales(height: Int, width: Int) -> Int { min(height, width) >= 64 ? 3 : 2 }

  public let scales: Int
  /// Exponent of each scale, finest first; sums to 1.
  public let weights: [Double]
  public let windowSize: Int
  public let sigma: Float
  public let inputRange: ClosedRange<Float>
  public let channelReduction: ChannelReduction
  private let kernel: SSIMKernel

  // Cache of the last `evaluate` (sample-major, then scale, then channel where flattened).
  /// Images at each scale, mapped to [0, 1]: [N, C, H_s, W_s].
  private var imagesX: [Tensor] = []
  private var imagesY: [Tensor] = []
  /// ∂v_{s,c}/∂(μx, Exx, Exy) maps at each scale: [N, C, 3, H_s − w + 1, W_s − w + 1].
  private var partials: [Tensor] = []
  /// ∂ms_i/∂v_{s,c}: [N, S, C].
  private var valueDerivatives: [Double] = []
  /// (H_s, W_s) of each scale.
  private var sizes: [(Int, Int)] = []
  /// One plane per scale ≥ 1: the gradient with respect to that scale's image (backward).
  private var planeGradients: [Tensor] = []
  /// [N, C, H, W] gradient with respect to the first image, reused.
  private var dX: Tensor?
  private var inputShape: [Int] = []
  /// sign · weight · ∂ms/∂v_s of the plane being back-propagated.
  private var factors: [Float]
  private var gradientReady = false

  public init(
    scales: Int, windowSize: Int = 7, sigma: Float = 1.5, inputRange: ClosedRange<Float> = -1...1,
    channelReduction: ChannelReduction = .afterProduct
  ) {
    precondition((1...MSSSIM.standardWeights.count).contains(scales), "MS-SSIM: scales must be 1…5, got \(scales)")
    precondition(inputRange.upperBound > inputRange.lowerBound, "MS-SSIM: empty input range \(inputRange)")
    let w = Array(MSSSIM.standardWeights.prefix(scales))
    let total = w.reduce(0, +)
    self.weights = w.map { $0 / total }
    self.scales = scales
    self.windowSize = windowSize
    self.sigma = sigma
    self.inputRange = inputRange
    self.channelReduction = channelReduction
    factors = [Float](repeating: 0, count: scales)
    kernel = SSIMKernel(windowSize: windowSize, sigma: sigma)
  }

  /// MS-SSIM of each of the N image pairs.
  public func callAsFunction(_ x: Tensor, _ y: Tensor) -> [Float] { evaluate(x, y, keepGradient: false) }

  /// MS-SSIM per sample; with `keepGradient`, caches what `gradient(sampleWeights:sign:)` needs.
  func evaluate(_ x: Tensor, _ y: Tensor, keepGradient: Bool) -> [Float] {
    precondition(
      x.shape == y.shape && x.shape.count == 4, "MS-SSIM: images must be [N, C, H, W], got \(x.shape), \(y.shape)")
    let n = x.shape[0]
    let c = x.shape[1]
    let s = scales
    let window = windowSize
    inputShape = x.shape
    sizes = [(x.shape[2], x.shape[3])]
    for _ in 1..<s {
      let (h, w) = sizes[sizes.count - 1]
      sizes.append((SSIMKernel.pooledSize(h), SSIMKernel.pooledSize(w)))
    }
    for (k, (h, w)) in sizes.enumerated() {
      precondition(
        h >= window && w >= window,
        "MS-SSIM: scale \(k + 1) of \(x.shape) is \(h)×\(w), smaller than the \(window)-pixel window; "
          + "use fewer scales")
    }
    reuse(&imagesX, sizes.map { [n, c, $0.0, $0.1] })
    reuse(&imagesY, sizes.map { [n, c, $0.0, $0.1] })
    if keepGradient {
      reuse(&partials, sizes.map { [n, c, 3, $0.0 - window + 1, $0.1 - window + 1] })
      reuse(&planeGradients, sizes.map { [$0.0, $0.1] })
    }
    gradientReady = keepGradient

    var values = [Double](repeating: 0, count: n * s * c)
    for i in 0..<n {
      for ch in 0..<c {
        for k in 0..<s {
          let (h, w) = sizes[k]
          let plane = h * w
          let offset = (i * c + ch) * plane
          let px = imagesX[k].pointer + offset
          let py = imagesY[k].pointer + offset
          if k == 0 {
            mapToUnitRange(x.pointer + offset, plane, inputRange, px)
            mapToUnitRange(y.pointer + offset, plane, inputRange, py)
          } else {
            let (hp, wp) = sizes[k - 1]
            let previous = (i * c + ch) * hp * wp
            SSIMKernel.pool(imagesX[k - 1].pointer + previous, height: hp, width: wp, into: px)
            SSIMKernel.pool(imagesY[k - 1].pointer + previous, height: hp, width: wp, into: py)
          }
          let coarsest = k == s - 1
          let target: SSIMKernel.Target = keepGradient ? (coarsest ? .ssim : .contrastStructure) : .none
          let mapPlane = 3 * (h - window + 1) * (w - window + 1)
          let out = keepGradient ? partials[k].pointer + (i * c + ch) * mapPlane : nil
          let (cs, ssim) = kernel.statistics(x: px, y: py, height: h, width: w, target: target, partials: out)
          values[(i * s + k) * c + ch] = coarsest ? ssim : cs
        }
      }
    }
    return combine(values, n: n, channels: c, keepGradient: keepGradient)
  }

  /// The weighted product per sample, and (if asked) ∂ms_i/∂v_{s,c} into `valueDerivatives`.
  private func combine(_ values: [Double], n: Int, channels c: Int, keepGradient: Bool) -> [Float] {
    let s = scales
    let floor = MSSSIM.minimumValue
    if keepGradient { valueDerivatives = [Double](repeating: 0, count: n * s * c) }
    var result = [Float](repeating: 0, count: n)
    for i in 0..<n {
      switch channelReduction {
      case .beforeProduct:
        var product = 1.0
        var means = [Double](repeating: 0, count: s)
        for k in 0..<s {
          for ch in 0..<c { means[k] += values[(i * s + k) * c + ch] }
          means[k] /= Double(c)
          product *= pow(max(means[k], floor), weights[k])
        }
        result[i] = Float(product)
        if keepGradient {
          for k in 0..<s where means[k] > floor {
            let d = weights[k] * product / means[k] / Double(c)
            for ch in 0..<c { valueDerivatives[(i * s + k) * c + ch] = d }
          }
        }
      case .afterProduct:
        var total = 0.0
        for ch in 0..<c {
          var product = 1.0
          for k in 0..<s { product *= pow(max(values[(i * s + k) * c + ch], floor), weights[k]) }
          total += product
          if keepGradient {
            for k in 0..<s {
              let v = values[(i * s + k) * c + ch]
              if v > floor { valueDerivatives[(i * s + k) * c + ch] = weights[k] * product / v / Double(c) }
            }
          }
        }
        result[i] = Float(total / Double(c))
      }
    }
    return result
  }

  /// Σ_i sign · sampleWeights[i] · ∂ms_i/∂x for the first image of the last `evaluate(keepGradient: true)`.
  /// The result has the input shape and is owned by this object.
  func gradient(sampleWeights: [Float], sign: Float) -> Tensor {
    precondition(gradientReady, "MS-SSIM gradient requested without a forward that kept it")
    let n = inputShape[0]
    let c = inputShape[1]
    let s = scales
    let window = windowSize
    precondition(sampleWeights.count == n, "MS-SSIM backward: \(sampleWeights.count) weights for \(n) samples")
    let g = Tensor.reuse(dX, shape: inputShape)
    dX = g
    let inverseRange = 1 / (inputRange.upperBound - inputRange.lowerBound)
    for i in 0..<n {
      for ch in 0..<c {
        let (h0, w0) = sizes[0]
        let out = g.pointer + (i * c + ch) * h0 * w0
        var anyFactor = false
        for k in 0..<s {
          factors[k] = Float(Double(sign * sampleWeights[i]) * valueDerivatives[(i * s + k) * c + ch])
          anyFactor = anyFactor || factors[k] != 0
        }
        if !anyFactor {
          out.update(repeating: 0, count: h0 * w0)
          continue
        }
        // Coarse to fine: each scale's gradient is the unpooled coarser gradient plus its own term.
        for k in stride(from: s - 1, through: 0, by: -1) {
          let (h, w) = sizes[k]
          let plane = h * w
          let offset = (i * c + ch) * plane
          let target = k == 0 ? out : planeGradients[k].pointer
          let coarsest = k == s - 1
          if !coarsest {
            SSIMKernel.unpool(planeGradients[k + 1].pointer, height: h, width: w, into: target, accumulate: false)
          } else if factors[k] == 0 {
            target.update(repeating: 0, count: plane)
          }
          if factors[k] != 0 {
            let mapPlane = 3 * (h - window + 1) * (w - window + 1)
            kernel.backProject(
              partials: partials[k].pointer + (i * c + ch) * mapPlane, factor: factors[k],
              x: imagesX[k].pointer + offset, y: imagesY[k].pointer + offset, height: h, width: w,
              into: target, accumulate: !coarsest)
          }
        }
        for j in 0..<(h0 * w0) { out[j] *= inverseRange }
      }
    }
    return g
  }
}

/// Resizes a list of workspaces to `shapes`, reusing storage that fits.
private func reuse(_ tensors: inout [Tensor], _ shapes: [[Int]]) {
  tensors = shapes.enumerated().map { k, shape in Tensor.reuse(k < tensors.count ? tensors[k] : nil, shape: shape) }
}
