import Testing

@testable import Tensor

/// (N, C, H, W, kernel, stride, padding) covering strides, padding larger than the stride, non-square images,
/// kernels equal to the padded image and the DCGAN shapes.
let convolutionCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
  (2, 3, 5, 5, 3, 1, 0), (2, 2, 6, 5, 3, 2, 1), (3, 2, 8, 8, 4, 2, 1), (1, 3, 7, 6, 4, 1, 0),
  (2, 1, 4, 4, 4, 1, 0), (2, 2, 5, 7, 3, 3, 2), (1, 1, 1, 1, 3, 1, 1), (2, 4, 9, 9, 1, 2, 0),
]

private func randomArray(_ count: Int, seed: UInt64) -> [Float] {
  var g = PhiloxGenerator(seed: seed)
  return (0..<count).map { _ in g.nextNormal() }
}

/// Direct convolution `y[n, o, oh, ow] = Σ w[o, c, ki, kj] · x[n, c, oh·s − p + ki, ow·s − p + kj]`, in Double.
private func directConvolution(
  _ x: [Float], _ w: [Float], n: Int, c: Int, h: Int, wd: Int, outChannels: Int, k: Int, s: Int, p: Int
) -> [Double] {
  let ho = (h + 2 * p - k) / s + 1
  let wo = (wd + 2 * p - k) / s + 1
  var y = [Double](repeating: 0, count: n * outChannels * ho * wo)
  for b in 0..<n {
    for o in 0..<outChannels {
      for oh in 0..<ho {
        for ow in 0..<wo {
          var acc = 0.0
          for ch in 0..<c {
            for ki in 0..<k {
              for kj in 0..<k {
                let ih = oh * s - p + ki
                let iw = ow * s - p + kj
                if ih < 0 || ih >= h || iw < 0 || iw >= wd { continue }
                acc += Double(w[((o * c + ch) * k + ki) * k + kj]) * Double(x[((b * c + ch) * h + ih) * wd + iw])
              }
            }
          }
          y[((b * outChannels + o) * ho + oh) * wo + ow] = acc
        }
      }
    }
  }
  return y
}

/// im2col/col2im against direct loops.
struct Im2colTests {
  @Test(arguments: convolutionCases)
  func im2colTimesWeightsIsTheDirectConvolution(_ shape: (Int, Int, Int, Int, Int, Int, Int)) {
    let (n, c, h, w, k, s, p) = shape
    let outChannels = 3
    let g = ConvolutionGeometry(channels: c, height: h, width: w, kernelSize: k, stride: s, padding: p)
    #expect(g.outputHeight == (h + 2 * p - k) / s + 1 && g.outputWidth == (w + 2 * p - k) / s + 1)
    let x = randomArray(n * c * h * w, seed: 1)
    let weights = randomArray(outChannels * g.columnRows, seed: 2)
    let cols = n * g.outputPlane
    var columns = [Float](repeating: .nan, count: g.columnRows * cols)
    x.withUnsafeBufferPointer { xp in
      columns.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, batch: n, geometry: g, into: $0.baseAddress!) }
    }
    // Y[o, n·P + q] = Σ_r W[o, r] · columns[r, n·P + q], compared in NCHW order.
    let reference = directConvolution(x, weights, n: n, c: c, h: h, wd: w, outChannels: outChannels, k: k, s: s, p: p)
    var worst = (0.0, -1)
    for b in 0..<n {
      for o in 0..<outChannels {
        for q in 0..<g.outputPlane {
          var acc = 0.0
          for r in 0..<g.columnRows {
            acc += Double(weights[o * g.columnRows + r]) * Double(columns[r * cols + b * g.outputPlane + q])
          }
          let i = (b * outChannels + o) * g.outputPlane + q
          let err = abs(acc - reference[i])
          if err > worst.0 || err.isNaN { worst = (err, i) }
        }
      }
    }
    #expect(worst.0 <= 1e-5, "worst element \(worst.1): error \(worst.0)")
  }

  @Test(arguments: convolutionCases)
  func col2imIsTheAdjointOfIm2col(_ shape: (Int, Int, Int, Int, Int, Int, Int)) {
    let (n, c, h, w, k, s, p) = shape
    let g = ConvolutionGeometry(channels: c, height: h, width: w, kernelSize: k, stride: s, padding: p)
    let x = randomArray(n * c * h * w, seed: 3)
    let d = randomArray(g.columnRows * n * g.outputPlane, seed: 4)
    var columns = [Float](repeating: 0, count: d.count)
    var image = [Float](repeating: .nan, count: x.count)  // col2im must overwrite, not accumulate
    x.withUnsafeBufferPointer { xp in
      columns.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, batch: n, geometry: g, into: $0.baseAddress!) }
    }
    d.withUnsafeBufferPointer { dp in
      image.withUnsafeMutableBufferPointer { col2im(dp.baseAddress!, batch: n, geometry: g, into: $0.baseAddress!) }
    }
    // <im2col(x), d> == <x, col2im(d)>
    let lhs = zip(columns, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let rhs = zip(x, image).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)), "<im2col x, d> = \(lhs), <x, col2im d> = \(rhs)")
  }

  @Test(arguments: convolutionCases)
  func col2imMatchesANaiveScatter(_ shape: (Int, Int, Int, Int, Int, Int, Int)) {
    let (n, c, h, w, k, s, p) = shape
    let g = ConvolutionGeometry(channels: c, height: h, width: w, kernelSize: k, stride: s, padding: p)
    let (ho, wo) = (g.outputHeight, g.outputWidth)
    let d = randomArray(g.columnRows * n * g.outputPlane, seed: 5)
    var reference = [Double](repeating: 0, count: n * c * h * w)
    for ch in 0..<c {
      for ki in 0..<k {
        for kj in 0..<k {
          for b in 0..<n {
            for oh in 0..<ho {
              for ow in 0..<wo {
                let ih = oh * s - p + ki
                let iw = ow * s - p + kj
                if ih < 0 || ih >= h || iw < 0 || iw >= w { continue }
                let r = (ch * k + ki) * k + kj
                reference[((b * c + ch) * h + ih) * w + iw] += Double(d[r * n * ho * wo + (b * ho + oh) * wo + ow])
              }
            }
          }
        }
      }
    }
    var image = [Float](repeating: 7, count: n * c * h * w)
    d.withUnsafeBufferPointer { dp in
      image.withUnsafeMutableBufferPointer { col2im(dp.baseAddress!, batch: n, geometry: g, into: $0.baseAddress!) }
    }
    let worst = zip(image, reference).enumerated().map { (abs(Double($1.0) - $1.1), $0) }.max { $0.0 < $1.0 }!
    #expect(worst.0 <= 1e-5, "worst element \(worst.1): error \(worst.0)")
  }

  @Test(arguments: [(2, 3, 4), (3, 5, 1), (1, 4, 6), (4, 1, 3)])
  func channelsMajorPermutesAreInverseAndIndexCorrectly(_ shape: (Int, Int, Int)) {
    let (n, c, plane) = shape
    let x = (0..<(n * c * plane)).map(Float.init)
    var cnhw = [Float](repeating: .nan, count: x.count)
    var back = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { xp in
      cnhw.withUnsafeMutableBufferPointer {
        permuteNCHWToCNHW(xp.baseAddress!, batch: n, channels: c, plane: plane, into: $0.baseAddress!)
      }
    }
    for b in 0..<n {
      for ch in 0..<c {
        for i in 0..<plane { #expect(cnhw[(ch * n + b) * plane + i] == x[(b * c + ch) * plane + i]) }
      }
    }
    cnhw.withUnsafeBufferPointer { cp in
      back.withUnsafeMutableBufferPointer {
        permuteCNHWToNCHW(cp.baseAddress!, batch: n, channels: c, plane: plane, into: $0.baseAddress!)
      }
    }
    #expect(back == x)
  }
}
