import Foundation

/// Kernels for the *batch-last* layout `[C, H, W, nb]`: a block of `nb` images with the sample index
/// innermost, so every pixel is a contiguous vector of `nb` floats.
///
/// In this layout the batch is still folded into the GEMM columns (`[C, H·W·nb]` is a row-major matrix, as
/// CNHW is), but im2col and col2im move whole `nb`-vectors instead of single floats at stride 2, and
/// per-channel epilogues (frozen BatchNorm, ReLU, Tanh) run over contiguous memory. The column matrix of a
/// ``ConvolutionGeometry`` `g` is `[C·kh·kw, Ho·Wo·nb]` with row `(c·kh + ki)·kw + kj` and column
/// `(oh·Wo + ow)·nb + n`.

/// What ``batchLastCol2im(_:batchBlock:geometry:into:epilogue:)`` applies to each summed pixel vector.
public enum BatchLastEpilogue {
  /// Store the sums.
  case none
  /// Store the sums, and `max(sum·scale[c] + shift[c], 0)` (ReLU; NaN passes) into `activated`, which has the
  /// image's layout and may be the image itself.
  case affineReLU(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activated: UnsafeMutablePointer<Float>)
  /// Store `tanh(sum)` only.
  case tanh
}

@usableFromInline typealias Vector8 = SIMD8<Float>

@inline(__always) @usableFromInline
func load8(_ p: UnsafePointer<Float>) -> Vector8 {
  UnsafeRawPointer(p).loadUnaligned(as: Vector8.self)
}

@inline(__always) @usableFromInline
func store8(_ v: Vector8, _ p: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector8.self)
}

/// Copies `n` floats (short runs; avoids a `memmove` call per pixel vector).
@inline(__always) @usableFromInline
func copyFloats(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
  var i = 0
  while i + 8 <= n {
    store8(load8(s + i), d + i)
    i += 8
  }
  while i < n {
    d[i] = s[i]
    i += 1
  }
}

@inline(__always) @usableFromInline
func zeroFloats(_ d: UnsafeMutablePointer<Float>, _ n: Int) {
  var i = 0
  while i + 8 <= n {
    store8(Vector8(repeating: 0), d + i)
    i += 8
  }
  while i < n {
    d[i] = 0
    i += 1
  }
}

/// The taps of one axis: for image coordinate `y`, the pairs `(k, o)` with `o·stride − padding + k = y`,
/// `0 ≤ k < kernel`, `0 ≤ o < outputs`, written as `k` then `o` into `taps`; returns the number of pairs.
@inline(__always)
func axisTaps(
  _ y: Int, kernel: Int, stride: Int, padding: Int, outputs: Int, into taps: UnsafeMutablePointer<Int>
) -> Int {
  var count = 0
  // k ≡ (y + padding) mod stride
  var k = (y + padding) % stride
  while k < kernel {
    let numerator = y + padding - k
    if numerator >= 0 {
      let o = numerator / stride
      if o < outputs {
        taps[2 * count] = k
        taps[2 * count + 1] = o
        count += 1
      }
    }
    k += stride
  }
  return count
}

/// Unfolds a batch-last block into its column matrix: `columns[(c, ki, kj), (oh, ow, n)] =
/// image[c, oh·s − p + ki, ow·s − p + kj, n]`, or 0 in the padding.
///
/// `image` is `[C, H, W, nb]` (`C, H, W` from `g`); `columns` is `[C·kh·kw, Ho·Wo·nb]`.
public func batchLastIm2col(
  _ image: UnsafePointer<Float>, batchBlock nb: Int, geometry g: ConvolutionGeometry,
  into columns: UnsafeMutablePointer<Float>
) {
  let (s, p, wo) = (g.stride, g.padding, g.outputWidth)
  let rowLength = g.outputPlane * nb
  let imagePlane = g.height * g.width * nb
  let imageRow = g.width * nb
  for c in 0..<g.channels {
    let src = image + c * imagePlane
    for ki in 0..<g.kernelHeight {
      for kj in 0..<g.kernelWidth {
        let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
        let valid = g.validOutputColumns(kernelColumn: kj)
        for oh in 0..<g.outputHeight {
          let dst = row + oh * wo * nb
          let ih = oh * s - p + ki
          if ih < 0 || ih >= g.height {
            zeroFloats(dst, wo * nb)
            continue
          }
          let srcRow = src + ih * imageRow
          if valid.lowerBound > 0 { zeroFloats(dst, valid.lowerBound * nb) }
          if s == 1 {
            let iw = valid.lowerBound - p + kj
            copyFloats(dst + valid.lowerBound * nb, srcRow + iw * nb, valid.count * nb)
          } else {
            for ow in valid { copyFloats(dst + ow * nb, srcRow + (ow * s - p + kj) * nb, nb) }
          }
          if valid.upperBound < wo { zeroFloats(dst + valid.upperBound * nb, (wo - valid.upperBound) * nb) }
        }
      }
    }
  }
}

/// Folds a column matrix back into a batch-last block, summing overlapping taps (the adjoint of
/// ``batchLastIm2col(_:batchBlock:geometry:into:)``), then applies `epilogue` to each pixel vector.
///
/// Every pixel is gathered from its taps and written once (no zero fill, no read-modify-write), so a
/// transposed convolution's output and its activation come out of one pass. Pixels are visited phase by
/// phase (`y mod stride`, `x mod stride`): within a phase every pixel has the same kernel taps, so each
/// column row is read as one sequential stream.
/// `columns` is `[C·kh·kw, Ho·Wo·nb]`; `image` is `[C, H, W, nb]` and is overwritten.
public func batchLastCol2im(
  _ columns: UnsafePointer<Float>, batchBlock nb: Int, geometry g: ConvolutionGeometry,
  into image: UnsafeMutablePointer<Float>, epilogue: BatchLastEpilogue = .none
) {
  let (kh, kw, s, p) = (g.kernelHeight, g.kernelWidth, g.stride, g.padding)
  let (h, w, wo) = (g.height, g.width, g.outputWidth)
  let rowLength = g.outputPlane * nb
  let maxTaps = (max(kh, kw) + s - 1) / s
  // Scratch: per image row y the column offsets of its (ki, oh) taps and their count; the same per column x.
  withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: maxTaps * maxTaps) { tapScratch in
    let tapPointers = tapScratch.baseAddress!
    withUnsafeTemporaryAllocation(of: Int.self, capacity: (h + w) * (maxTaps + 1) + 2 * maxTaps) { scratch in
      let yOffsets = scratch.baseAddress!
      let yCounts = yOffsets + h * maxTaps
      let xOffsets = yCounts + h
      let xCounts = xOffsets + w * maxTaps
      let taps = xCounts + w
      for y in 0..<h {
        yCounts[y] = axisTaps(y, kernel: kh, stride: s, padding: p, outputs: g.outputHeight, into: taps)
        for t in 0..<yCounts[y] { yOffsets[y * maxTaps + t] = taps[2 * t] * kw * rowLength + taps[2 * t + 1] * wo * nb }
      }
      for x in 0..<w {
        xCounts[x] = axisTaps(x, kernel: kw, stride: s, padding: p, outputs: wo, into: taps)
        for t in 0..<xCounts[x] { xOffsets[x * maxTaps + t] = taps[2 * t] * rowLength + taps[2 * t + 1] * nb }
      }
      for c in 0..<g.channels {
        let channelColumns = columns + c * kh * kw * rowLength
        for a in 0..<min(s, h) {
          for b in 0..<min(s, w) {
            for y in stride(from: a, to: h, by: s) {
              let ny = yCounts[y]
              let rowOffset = (c * h + y) * w * nb
              for x in stride(from: b, to: w, by: s) {
                let pixel = rowOffset + x * nb
                // This pixel's taps: column-matrix pointers, summed in this order.
                var count = 0
                for ty in 0..<ny {
                  let base = channelColumns + yOffsets[y * maxTaps + ty]
                  for tx in 0..<xCounts[x] {
                    tapPointers[count] = base + xOffsets[x * maxTaps + tx]
                    count += 1
                  }
                }
                gatherPixel(
                  tapPointers, count: count, nb: nb, into: image + pixel, channel: c, epilogue: epilogue, pixel: pixel)
              }
            }
          }
        }
      }
    }
  }
}

/// Sums `count` tap vectors of `nb` floats into `dst` and applies the epilogue (one pixel of col2im).
@inline(__always)
private func gatherPixel(
  _ taps: UnsafeMutablePointer<UnsafePointer<Float>>, count: Int, nb: Int, into dst: UnsafeMutablePointer<Float>,
  channel c: Int, epilogue: BatchLastEpilogue, pixel: Int
) {
  @inline(__always) func emit(_ sum: Vector8, _ i: Int) {
    switch epilogue {
    case .none:
      store8(sum, dst + i)
    case .affineReLU(let scale, let shift, let activated):
      let v = sum * Vector8(repeating: scale[c]) + Vector8(repeating: shift[c])
      store8(sum, dst + i)  // the sums first: `activated` may be the image itself
      store8(v.replacing(with: 0, where: v .< 0), activated + pixel + i)
    case .tanh:
      store8(fastTanh(sum), dst + i)
    }
  }
  var i = 0
  switch count {
  case 4:
    let (p0, p1, p2, p3) = (taps[0], taps[1], taps[2], taps[3])
    while i + 8 <= nb {
      emit(load8(p0 + i) + load8(p1 + i) + load8(p2 + i) + load8(p3 + i), i)
      i += 8
    }
  case 1:
    let p0 = taps[0]
    while i + 8 <= nb {
      emit(Vector8(repeating: 0) + load8(p0 + i), i)
      i += 8
    }
  default:
    while i + 8 <= nb {
      var acc = Vector8(repeating: 0)
      for t in 0..<count { acc += load8(taps[t] + i) }
      emit(acc, i)
      i += 8
    }
  }
  if i < nb {
    // The last nb mod 8 samples, through a zero-padded vector.
    let lanes = nb - i
    var acc = Vector8(repeating: 0)
    for t in 0..<count { for l in 0..<lanes { acc[l] += taps[t][i + l] } }
    var sums = Vector8(repeating: 0)
    var outputs = Vector8(repeating: 0)
    switch epilogue {
    case .none:
      sums = acc
    case .affineReLU(let scale, let shift, _):
      sums = acc
      let v = acc * Vector8(repeating: scale[c]) + Vector8(repeating: shift[c])
      outputs = v.replacing(with: 0, where: v .< 0)
    case .tanh:
      sums = fastTanh(acc)
    }
    for l in 0..<lanes { dst[i + l] = sums[l] }
    if case .affineReLU(_, _, let activated) = epilogue {
      for l in 0..<lanes { activated[pixel + i + l] = outputs[l] }
    }
  }
}

/// `activated[c, i] = max(x[c, i]·scale[c] + shift[c], 0)` over `[channels, length]` (ReLU; NaN passes);
/// `activated` may be `x`. The epilogue of a convolution whose GEMM output is already the image.
public func batchLastAffineReLU(
  _ x: UnsafePointer<Float>, channels: Int, length: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
  into activated: UnsafeMutablePointer<Float>
) {
  for c in 0..<channels {
    let (src, dst) = (x + c * length, activated + c * length)
    let (sc, sh) = (scale[c], shift[c])
    let (vs, vh) = (Vector8(repeating: sc), Vector8(repeating: sh))
    var i = 0
    while i + 8 <= length {
      let v = load8(src + i) * vs + vh
      store8(v.replacing(with: 0, where: v .< 0), dst + i)
      i += 8
    }
    while i < length {
      let v = src[i] * sc + sh
      dst[i] = v < 0 ? 0 : v
      i += 1
    }
  }
}

/// Gathers rows `start ..< start + nb` of the row-major `[N, features]` matrix `rows` into the batch-last
/// block `block[features, nb]` (e.g. latents `[N, nz]`, or NCHW images with `features = C·H·W`).
public func batchLastGather(
  _ rows: UnsafePointer<Float>, features: Int, start: Int, batchBlock nb: Int, into block: UnsafeMutablePointer<Float>
) {
  let base = rows + start * features
  for f in 0..<features {
    let dst = block + f * nb
    for n in 0..<nb { dst[n] = base[n * features + f] }
  }
}

/// Scatters the batch-last block `block[features, nb]` back to rows `start ..< start + nb` of the row-major
/// `[N, features]` matrix `rows`: the inverse of ``batchLastGather(_:features:start:batchBlock:into:)``.
public func batchLastScatter(
  _ block: UnsafePointer<Float>, features: Int, start: Int, batchBlock nb: Int, into rows: UnsafeMutablePointer<Float>
) {
  let base = rows + start * features
  for n in 0..<nb {
    let dst = base + n * features
    for f in 0..<features { dst[f] = block[f * nb + n] }
  }
}
