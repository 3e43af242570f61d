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
  /// Zero-padded copies of one row of each of the three `columns` planes (backward).
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
      // Horizontal pass: each input row → five filtered rows. Each output is accumulated in registers over
      // the taps in order (k = 0, 1, …), the same sums as tap-by-tap accumulation into memory.
      let hx = r.pointer
      let hy = hx + rowPlane
      let hxx = hy + rowPlane
      let hyy = hxx + rowPlane
      let hxy = hyy + rowPlane
      let window = self.window
      for i in 0..<h {
        let xr = x + i * w
        let yr = y + i * w
        let o = i * wo
        var q = 0
        while q + 8 <= wo {
          var (sx, sy, sxx, syy, sxy) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
          for k in 0..<window {
            let tk = Lanes(repeating: t[k])
            let a = Lanes.load(xr + q + k)
            let b = Lanes.load(yr + q + k)
            let ta = tk * a
            let tb = tk * b
            sx += ta
            sy += tb
            sxx += ta * a
            syy += tb * b
            sxy += ta * b
          }
          sx.store(hx + o + q)
          sy.store(hy + o + q)
          sxx.store(hxx + o + q)
          syy.store(hyy + o + q)
          sxy.store(hxy + o + q)
          q += 8
        }
        while q < wo {
          var (sx, sy, sxx, syy, sxy): (Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0)
          for k in 0..<window {
            let a = xr[q + k]
            let b = yr[q + k]
            let ta = t[k] * a
            let tb = t[k] * b
            sx += ta
            sy += tb
            sxx += ta * a
            syy += tb * b
            sxy += ta * b
          }
          (hx[o + q], hy[o + q], hxx[o + q], hyy[o + q], hxy[o + q]) = (sx, sy, sxx, syy, sxy)
          q += 1
        }
      }
      // Vertical pass over the five planes, accumulated the same way.
      for p in 0..<5 {
        let src = r.pointer + p * rowPlane
        let dst = m.pointer + p * plane
        for i in 0..<ho {
          let out = dst + i * wo
          var q = 0
          while q + 8 <= wo {
            var acc = Lanes.zero
            for k in 0..<window { acc += Lanes(repeating: t[k]) * Lanes.load(src + (i + k) * wo + q) }
            acc.store(out + q)
            q += 8
          }
          while q < wo {
            var acc: Float = 0
            for k in 0..<window { acc += t[k] * src[(i + k) * wo + q] }
            out[q] = acc
            q += 1
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
    // Three zero-padded rows of wo + 2·(window − 1); cleared per call (the scales have different widths).
    let line = Tensor.reuse(lineBuffer, shape: [3 * (wo + 2 * (window - 1))])
    lineBuffer = line
    line.fill(0)
    taps.withUnsafeBufferPointer { t in
      // Vertical transpose: Ho×Wo → H×Wo, scaled by `factor`. Output row r gathers input rows i = r − k in
      // increasing i, the order of row-by-row scatter-accumulation.
      let window = self.window
      for p in 0..<3 {
        let src = partials + p * plane
        let dst = cols.pointer + p * rowPlane
        for r in 0..<h {
          let first = max(0, r - window + 1)
          let last = min(ho - 1, r)
          let out = dst + r * wo
          var q = 0
          while q + 8 <= wo {
            var acc = Lanes.zero
            if first <= last {
              for i in first...last { acc += Lanes(repeating: t[r - i] * factor) * Lanes.load(src + i * wo + q) }
            }
            acc.store(out + q)
            q += 8
          }
          while q < wo {
            var acc: Float = 0
            if first <= last { for i in first...last { acc += t[r - i] * factor * src[i * wo + q] } }
            out[q] = acc
            q += 1
          }
        }
      }
      // Horizontal transpose row by row (output column j gathers q = j − k in increasing k, zero padding
      // outside the row), then combine with x and y.
      let pad = window - 1
      let ca = cols.pointer
      let cb = ca + rowPlane
      let cc = cb + rowPlane
      // Padded copies of one row of each map: [pad zeros, wo values, pad zeros] (the zeros stay zero).
      let pa = line.pointer
      let pb = pa + wo + 2 * pad
      let pc = pb + wo + 2 * pad
      for i in 0..<h {
        let o = i * wo
        (pa + pad).update(from: ca + o, count: wo)
        (pb + pad).update(from: cb + o, count: wo)
        (pc + pad).update(from: cc + o, count: wo)
        let xr = x + i * w
        let yr = y + i * w
        let out = dx + i * w
        var j = 0
        while j + 8 <= w {
          var (sa, sb, sc) = (Lanes.zero, Lanes.zero, Lanes.zero)
          for k in 0..<window {
            let tk = Lanes(repeating: t[k])
            // q = j − k, at offset pad + q in the padded rows
            sa += tk * Lanes.load(pa + pad + j - k)
            sb += tk * Lanes.load(pb + pad + j - k)
            sc += tk * Lanes.load(pc + pad + j - k)
          }
          let xv = Lanes.load(xr + j), yv = Lanes.load(yr + j)
          let g = sa + 2 * xv * sb + yv * sc
          (accumulate ? Lanes.load(out + j) + g : g).store(out + j)
          j += 8
        }
        while j < w {
          var (sa, sb, sc): (Float, Float, Float) = (0, 0, 0)
          for k in 0..<window {
            sa += t[k] * pa[pad + j - k]
            sb += t[k] * pb[pad + j - k]
            sc += t[k] * pc[pad + j - k]
          }
          let g = sa + 2 * xr[j] * sb + yr[j] * sc
          out[j] = accumulate ? out[j] + g : g
          j += 1
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

/// Eight float lanes with unaligned loads and stores (the SSIM filters run over unaligned row offsets).
typealias Lanes = SIMD8<Float>

extension SIMD8 where Scalar == Float {
  static var zero: SIMD8<Float> { SIMD8(repeating: 0) }
  @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }
  @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: self, as: SIMD8<Float>.self)
  }
}
