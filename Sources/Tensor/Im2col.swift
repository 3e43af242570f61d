/// Geometry of a 2-D convolution window sliding over a batch of images (no dilation, symmetric zero
/// padding).
///
/// The image side is `[N, C, H, W]`; the window has `kernelHeight × kernelWidth` taps and moves by `stride`
/// over the zero-padded image, giving an `outputHeight × outputWidth` grid:
/// `outputHeight = (H + 2·padding − kernelHeight) / stride + 1` (floor), likewise for the width.
public struct ConvolutionGeometry: Equatable, Sendable {
  public let channels: Int
  public let height: Int
  public let width: Int
  public let kernelHeight: Int
  public let kernelWidth: Int
  public let stride: Int
  public let padding: Int
  public let outputHeight: Int
  public let outputWidth: Int

  public init(
    channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int = 1,
    padding: Int = 0
  ) {
    precondition(channels > 0 && height > 0 && width > 0, "empty image \(channels)×\(height)×\(width)")
    precondition(kernelHeight > 0 && kernelWidth > 0 && stride > 0 && padding >= 0, "bad window")
    precondition(
      height + 2 * padding >= kernelHeight && width + 2 * padding >= kernelWidth,
      "kernel \(kernelHeight)×\(kernelWidth) larger than padded image \(height)×\(width) (padding \(padding))")
    self.channels = channels
    self.height = height
    self.width = width
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.stride = stride
    self.padding = padding
    outputHeight = (height + 2 * padding - kernelHeight) / stride + 1
    outputWidth = (width + 2 * padding - kernelWidth) / stride + 1
  }

  /// A square kernel.
  public init(channels: Int, height: Int, width: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0) {
    self.init(
      channels: channels, height: height, width: width, kernelHeight: kernelSize, kernelWidth: kernelSize,
      stride: stride, padding: padding)
  }

  /// Rows of the column matrix: `C · kh · kw`, ordered (c, ki, kj) like a flattened Conv2d weight row.
  @inlinable public var columnRows: Int { channels * kernelHeight * kernelWidth }
  /// Output positions per image, `Ho · Wo`.
  @inlinable public var outputPlane: Int { outputHeight * outputWidth }
  /// Pixels per image channel, `H · W`.
  @inlinable public var inputPlane: Int { height * width }

  /// The half-open range of output columns `ow` whose input column `ow·stride − padding + kj` lies inside
  /// the image.
  @inlinable func validOutputColumns(kernelColumn kj: Int) -> Range<Int> {
    // iw = ow*s - p + kj ∈ [0, W)  ⇔  ow ∈ [ceil((p - kj)/s), floor((W - 1 + p - kj)/s)]
    let lowNumerator = padding - kj
    let low = lowNumerator <= 0 ? 0 : (lowNumerator + stride - 1) / stride
    let highNumerator = width - 1 + padding - kj
    let high = highNumerator < 0 ? 0 : highNumerator / stride + 1
    let lo = min(low, outputWidth)
    let hi = min(high, outputWidth)
    return lo..<max(lo, hi)
  }
}

/// Unfolds a batch of images into the column matrix of a convolution, with the batch folded into the
/// columns so a whole batch is one GEMM.
///
/// `image` is `[N, C, H, W]`; `columns` is `[C·kh·kw, N·Ho·Wo]` with row `(c·kh + ki)·kw + kj` and column
/// `n·Ho·Wo + oh·Wo + ow` holding `image[n, c, oh·stride − padding + ki, ow·stride − padding + kj]`, or 0
/// where that falls into the padding. A Conv2d is then `W[Cout, C·kh·kw] · columns = Y[Cout, N·Ho·Wo]`
/// (channels-major, see ``permuteCNHWToNCHW(_:batch:channels:plane:into:)``).
public func im2col(
  _ image: UnsafePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
  into columns: UnsafeMutablePointer<Float>
) {
  let plane = g.inputPlane
  let outPlane = g.outputPlane
  let rowLength = batch * outPlane
  let (s, p, wo) = (g.stride, g.padding, g.outputWidth)
  for c in 0..<g.channels {
    for ki in 0..<g.kernelHeight {
      for kj in 0..<g.kernelWidth {
        let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
        let valid = g.validOutputColumns(kernelColumn: kj)
        for n in 0..<batch {
          let src = image + (n * g.channels + c) * plane
          for oh in 0..<g.outputHeight {
            let dst = row + n * outPlane + oh * wo
            let ih = oh * s - p + ki
            if ih < 0 || ih >= g.height {
              dst.update(repeating: 0, count: wo)
              continue
            }
            let srcRow = src + ih * g.width - p + kj  // index by ow * s
            if valid.lowerBound > 0 { dst.update(repeating: 0, count: valid.lowerBound) }
            if s == 1 {
              (dst + valid.lowerBound).update(from: srcRow + valid.lowerBound, count: valid.count)
            } else {
              for ow in valid { dst[ow] = srcRow[ow * s] }
            }
            if valid.upperBound < wo {
              (dst + valid.upperBound).update(repeating: 0, count: wo - valid.upperBound)
            }
          }
        }
      }
    }
  }
}

/// Folds a column matrix back into images, summing overlapping taps: the adjoint of
/// ``im2col(_:batch:geometry:into:)``.
///
/// `columns` is `[C·kh·kw, N·Ho·Wo]`, `image` is `[N, C, H, W]` and is overwritten. Used for the input
/// gradient of Conv2d and the forward pass of ConvTranspose2d.
public func col2im(
  _ columns: UnsafePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
  into image: UnsafeMutablePointer<Float>
) {
  let plane = g.inputPlane
  let outPlane = g.outputPlane
  let rowLength = batch * outPlane
  let (s, p, wo) = (g.stride, g.padding, g.outputWidth)
  image.update(repeating: 0, count: batch * g.channels * plane)
  for c in 0..<g.channels {
    for ki in 0..<g.kernelHeight {
      for kj in 0..<g.kernelWidth {
        let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
        let valid = g.validOutputColumns(kernelColumn: kj)
        if valid.isEmpty { continue }
        for n in 0..<batch {
          let dstImage = image + (n * g.channels + c) * plane
          for oh in 0..<g.outputHeight {
            let ih = oh * s - p + ki
            if ih < 0 || ih >= g.height { continue }
            let src = row + n * outPlane + oh * wo
            let dstRow = dstImage + ih * g.width - p + kj  // index by ow * s
            if s == 1 {
              for ow in valid { dstRow[ow] += src[ow] }
            } else {
              for ow in valid { dstRow[ow * s] += src[ow] }
            }
          }
        }
      }
    }
  }
}

/// Copies `[N, C, plane]` (NCHW with `plane = H·W`) to channels-major `[C, N, plane]` (CNHW, i.e. the
/// `[C, N·H·W]` matrix a GEMM consumes or produces).
public func permuteNCHWToCNHW(
  _ source: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
  into destination: UnsafeMutablePointer<Float>
) {
  if plane == 1 {
    for n in 0..<batch {
      for c in 0..<channels { destination[c * batch + n] = source[n * channels + c] }
    }
    return
  }
  for n in 0..<batch {
    for c in 0..<channels {
      (destination + (c * batch + n) * plane).update(from: source + (n * channels + c) * plane, count: plane)
    }
  }
}

/// Copies channels-major `[C, N, plane]` (CNHW) back to `[N, C, plane]` (NCHW): the inverse of
/// ``permuteNCHWToCNHW(_:batch:channels:plane:into:)``.
public func permuteCNHWToNCHW(
  _ source: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
  into destination: UnsafeMutablePointer<Float>
) {
  if plane == 1 {
    for n in 0..<batch {
      for c in 0..<channels { destination[n * channels + c] = source[c * batch + n] }
    }
    return
  }
  for n in 0..<batch {
    for c in 0..<channels {
      (destination + (n * channels + c) * plane).update(from: source + (c * batch + n) * plane, count: plane)
    }
  }
}
