import Foundation
import Tensor

/// The per-plane machinery behind ``SSIM``, ``MSSSIM`` and ``MSSSIMLoss``: a separable Gaussian window applied
/// without padding ("valid"), the SSIM and contrast-structure maps, their hand-derived derivatives, and 2×2
/// average pooling. Works on single H×W planes over raw pointers; callers loop over samples and channels.
///
/// With μx = G∗x, μy = G∗y, Exx = G∗x², Eyy = G∗y², Exy = G∗xy (G the window, valid correlation),
/// σx² = Exx − μx², σy² = Eyy − μy², σxy = Exy − μxμy,
/// cs = (2σxy + C2) / (σx² + σy² + C2) and ssim = (2μxμy + C1) / (μx² + μy² + C1) · cs.
/// The derivative of a map mean v with respect to x is Gᵀ(∂v/∂μx) + 2x·Gᵀ(∂v/∂Exx) + y·Gᵀ(∂v/∂Exy).
final class SSIMKernel {
  /// Normalised Gaussian taps, as pytorch_msssim's `_fspecial_gauss_1d`.
  let taps: [Float]
  let window: Int
  let c1: Float
  let c2: Float

  /// 5 planes H×Wo: the horizontally filtered x, y, x², y², xy.
  private var rows: Tensor?
  /// 5 planes Ho×Wo: μx, μy, Exx, Eyy, Exy.
  private var moments: Tensor?
  /// 3 planes H×Wo: vertical Gᵀ of the three partial maps (backward).
  private var columns: Tensor?
  /// 3 rows of W: horizontal Gᵀ of one row of `columns` (backward).
  private var lineBuffer: Tensor?

  init(windowSize: Int, sigma: Float, k1: Float = 0.01, k2: Float = 0.03, dataRange: Float = 1) {
    precondition(windowSize >= 1 && windowSize % 2 == 1, "SSIM window size must be odd, got \(windowSize)")
    precondition(sigma > 0, "SSIM window sigma must be positive, got \(sigma)")
    let centre = Double(windowSize / 2)
    let s = Double(sigma)
    let g = (0..<windowSize).map { exp(-(Double($0) - centre) * (Double($0) - centre) / (2 * s * s)) }
    let total = g.reduce(0, +)
    taps = g.map { Float($0 / total) }
    window = windowSize
    c1 = (k1 * dataRange) * (k1 * dataRange)
    c2 = (k2 * dataRange) * (k2 * dataRange)
  }

  /// Which map mean `statistics` differentiates.
  enum Target { case none, contrastStructure, ssim }

  /// Mean contrast-structure and mean SSIM of planes `x`, `y` (h×w, h and w ≥ window). When `target` is not
  /// `.none`, writes ∂mean/∂μx, ∂mean/∂Exx, ∂mean/∂Exy of that map into `partials` (3 planes Ho×Wo).
  func statistics(
    x: UnsafePointer<Float>, y: UnsafePointer<Float>, height h: Int, width w: Int,
    target: Target, partials: UnsafeMutablePointer<Float>?
  ) -> (cs: Double, ssim: Double) {
    let ho = h - window + 1
    let wo = w - window + 1
    precondition(ho >= 1 && wo >= 1, "SSIM: plane \(h)×\(w) smaller than the \(window)-pixel window")
    let r = Tensor.reuse(rows, shape: [5, h, wo])
    rows = r
    let m = Tensor.reuse(moments, shape: [5, ho, wo])
    moments = m
    let rowPlane = h * wo
    let plane = ho * wo
    taps.withUnsafeBufferPointer { t in
      // Horizontal pass: each input row → five filtered rows.
      let hx = r.pointer
      let hy = hx + rowPlane
      let hxx = hy + rowPlane
      let hyy = hxx + rowPlane
      let hxy = hyy + rowPlane
      r.fill(0)
      for i in 0..<h {
        let xr = x + i * w
        let yr = y + i * w
        let o = i * wo
        for k in 0..<window {
          let tk = t[k]
          for q in 0..<wo {
            let a = xr[q + k]
            let b = yr[q + k]
            let ta = tk * a
            let tb = tk * b
            hx[o + q] += ta
            hy[o + q] += tb
            hxx[o + q] += ta * a
            hyy[o + q] += tb * b
            hxy[o + q] += ta * b
          }
        }
      }
      // Vertical pass over the five planes.
      m.fill(0)
      for p in 0..<5 {
        let src = r.pointer + p * rowPlane
        let dst = m.pointer + p * plane
        for i in 0..<ho {
          let out = dst + i * wo
          for k in 0..<window {
            let tk = t[k]
            let line = src + (i + k) * wo
            for q in 0..<wo { out[q] += tk * line[q] }
          }
        }
      }
    }
    let mx = m.pointer
    let my = mx + plane
    let exx = my + plane
    let eyy = exx + plane
    let exy = eyy + plane
    let c1 = self.c1
    let c2 = self.c2
    var csSum: Double = 0
    var ssimSum: Double = 0
    let scale = 1 / Float(plane)
    let da = partials
    let db = partials.map { $0 + plane }
    let dc = partials.map { $0 + 2 * plane }
    for j in 0..<plane {
      let ux = mx[j]
      let uy = my[j]
      let sxx = exx[j] - ux * ux
      let syy = eyy[j] - uy * uy
      let sxy = exy[j] - ux * uy
      let a1 = 2 * ux * uy + c1
      let b1 = ux * ux + uy * uy + c1
      let a2 = 2 * sxy + c2
      let b2 = sxx + syy + c2
      let l = a1 / b1
      let cs = a2 / b2
      csSum += Double(cs)
      ssimSum += Double(l * cs)
      switch target {
      case .none:
        break
      case .contrastStructure:
        let inv = scale / b2
        da![j] = (2 * ux * cs - 2 * uy) * inv
        db![j] = -cs * inv
        dc![j] = 2 * inv
      case .ssim:
        let inv = scale / b2
        let dl = (2 * uy - 2 * ux * l) / b1
        da![j] = dl * cs * scale + l * (2 * ux * cs - 2 * uy) * inv
        db![j] = -l * cs * inv
        dc![j] = 2 * l * inv
      }
    }
    return (csSum / Double(plane), ssimSum / Double(plane))
  }

  /// dx = factor · (Gᵀ a + 2x·Gᵀ b + y·Gᵀ c) for partial maps a, b, c (`partials`, 3 planes Ho×Wo) of planes
  /// x, y (h×w). Overwrites `dx` (h×w) if `accumulate` is false, else adds to it.
  func backProject(
    partials: UnsafePointer<Float>, factor: Float, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
    height h: Int, width w: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool
  ) {
    let ho = h - window + 1
    let wo = w - window + 1
    let plane = ho * wo
    let rowPlane = h * wo
    let cols = Tensor.reuse(columns, shape: [3, h, wo])
    columns = cols
    let line = Tensor.reuse(lineBuffer, shape: [3, w])
    lineBuffer = line
    cols.fill(0)
    taps.withUnsafeBufferPointer { t in
      // Vertical transpose: Ho×Wo → H×Wo, scaled by `factor`.
      for p in 0..<3 {
        let src = partials + p * plane
        let dst = cols.pointer + p * rowPlane
        for i in 0..<ho {
          let inRow = src + i * wo
          for k in 0..<window {
            let tk = t[k] * factor
            let out = dst + (i + k) * wo
            for q in 0..<wo { out[q] += tk * inRow[q] }
          }
        }
      }
      // Horizontal transpose row by row, then combine with x and y.
      let ga = line.pointer
      let gb = ga + w
      let gc = gb + w
      let ca = cols.pointer
      let cb = ca + rowPlane
      let cc = cb + rowPlane
      for i in 0..<h {
        line.fill(0)
        let o = i * wo
        for k in 0..<window {
          let tk = t[k]
          for q in 0..<wo {
            ga[q + k] += tk * ca[o + q]
            gb[q + k] += tk * cb[o + q]
            gc[q + k] += tk * cc[o + q]
          }
        }
        let xr = x + i * w
        let yr = y + i * w
        let out = dx + i * w
        if accumulate {
          for q in 0..<w { out[q] += ga[q] + 2 * xr[q] * gb[q] + yr[q] * gc[q] }
        } else {
          for q in 0..<w { out[q] = ga[q] + 2 * xr[q] * gb[q] + yr[q] * gc[q] }
        }
      }
    }
  }

  /// Side of the 2×2 average pool with padding side % 2 (pytorch_msssim between scales).
  static func pooledSize(_ side: Int) -> Int { (side + 2 * (side % 2) - 2) / 2 + 1 }

  /// 2×2 average pooling, stride 2, zero padding (h % 2, w % 2), divisor always 4 (count_include_pad).
  static func pool(_ src: UnsafePointer<Float>, height h: Int, width w: Int, into dst: UnsafeMutablePointer<Float>) {
    let ph = h % 2
    let pw = w % 2
    let ho = pooledSize(h)
    let wo = pooledSize(w)
    for i in 0..<ho {
      for j in 0..<wo {
        var s: Float = 0
        for r in (2 * i - ph)..<(2 * i - ph + 2) where r >= 0 && r < h {
          for c in (2 * j - pw)..<(2 * j - pw + 2) where c >= 0 && c < w { s += src[r * w + c] }
        }
        dst[i * wo + j] = s * 0.25
      }
    }
  }

  /// Transpose of `pool`: each fine pixel receives a quarter of its window's gradient (windows do not overlap
  /// and cover every pixel). Adds to `dst` if `accumulate`, else overwrites.
  static func unpool(
    _ src: UnsafePointer<Float>, height h: Int, width w: Int, into dst: UnsafeMutablePointer<Float>,
    accumulate: Bool
  ) {
    let ph = h % 2
    let pw = w % 2
    let wo = pooledSize(w)
    for r in 0..<h {
      let inRow = src + ((r + ph) / 2) * wo
      let out = dst + r * w
      for c in 0..<w {
        let g = 0.25 * inRow[(c + pw) / 2]
        if accumulate { out[c] += g } else { out[c] = g }
      }
    }
  }
}
