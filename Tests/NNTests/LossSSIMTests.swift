import Foundation
import Tensor
import Testing

@testable import NN

/// Straightforward MS-SSIM of one sample in Double: a full 2-D Gaussian window summed directly at every valid
/// position, explicit zero-padded 2×2 average pooling. Independent of the separable kernels under test.
private struct ReferenceMSSSIM {
  var scales: Int
  var window = 7
  var sigma = 1.5
  var inputRange: ClosedRange<Double> = -1...1
  var averageChannelsFirst = true

  /// Per scale and channel: mean contrast-structure and mean SSIM of the maps.
  func statistics(_ x: [Double], _ y: [Double], _ h: Int, _ w: Int) -> (cs: Double, ssim: Double) {
    let c = Double(window / 2)
    let g = (0..<window).map { exp(-(Double($0) - c) * (Double($0) - c) / (2 * sigma * sigma)) }
    let total = g.reduce(0, +) * g.reduce(0, +)
    let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
    var (csSum, ssimSum) = (0.0, 0.0)
    let (ho, wo) = (h - window + 1, w - window + 1)
    for r in 0..<ho {
      for q in 0..<wo {
        var (mx, my, exx, eyy, exy) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for a in 0..<window {
          for b in 0..<window {
            let k = g[a] * g[b] / total
            let u = x[(r + a) * w + q + b]
            let v = y[(r + a) * w + q + b]
            mx += k * u
            my += k * v
            exx += k * u * u
            eyy += k * v * v
            exy += k * u * v
          }
        }
        let (sx, sy, sxy) = (exx - mx * mx, eyy - my * my, exy - mx * my)
        let cs = (2 * sxy + c2) / (sx + sy + c2)
        csSum += cs
        ssimSum += (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
      }
    }
    return (csSum / Double(ho * wo), ssimSum / Double(ho * wo))
  }

  func pool(_ x: [Double], _ h: Int, _ w: Int) -> ([Double], Int, Int) {
    let (ph, pw) = (h % 2, w % 2)
    let (ho, wo) = ((h + 2 * ph - 2) / 2 + 1, (w + 2 * pw - 2) / 2 + 1)
    var out = [Double](repeating: 0, count: ho * wo)
    for i in 0..<ho {
      for j in 0..<wo {
        for r in [2 * i - ph, 2 * i - ph + 1] where r >= 0 && r < h {
          for q in [2 * j - pw, 2 * j - pw + 1] where q >= 0 && q < w { out[i * wo + j] += x[r * w + q] / 4 }
        }
      }
    }
    return (out, ho, wo)
  }

  /// MS-SSIM of one sample [C, H, W].
  func value(_ x: [Float], _ y: [Float], channels: Int, height: Int, width: Int) -> Double {
    let raw = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333].prefix(scales)
    let weights = raw.map { $0 / raw.reduce(0, +) }
    let span = inputRange.upperBound - inputRange.lowerBound
    var v = [[Double]](repeating: [Double](repeating: 0, count: channels), count: scales)
    let plane = height * width
    for ch in 0..<channels {
      var a = (0..<plane).map { (Double(x[ch * plane + $0]) - inputRange.lowerBound) / span }
      var b = (0..<plane).map { (Double(y[ch * plane + $0]) - inputRange.lowerBound) / span }
      var (h, w) = (height, width)
      for s in 0..<scales {
        let st = statistics(a, b, h, w)
        v[s][ch] = s == scales - 1 ? st.ssim : st.cs
        if s < scales - 1 {
          let pa = pool(a, h, w)
          let pb = pool(b, h, w)
          (a, b, h, w) = (pa.0, pb.0, pa.1, pa.2)
        }
      }
    }
    if averageChannelsFirst {
      return (0..<scales).reduce(1.0) { p, s in
        p * pow(max(v[s].reduce(0, +) / Double(channels), 1e-6), weights[s])
      }
    }
    return (0..<channels).reduce(0.0) { sum, ch in
      sum + (0..<scales).reduce(1.0) { $0 * pow(max(v[$1][ch], 1e-6), weights[$1]) }
    } / Double(channels)
  }
}

/// A smooth image in [-1, 1] (a few random sinusoids) and a noisy copy of it, [N, C, H, W] flattened.
private func imagePair(_ n: Int, _ c: Int, _ h: Int, _ w: Int, noise: Float, seed: UInt64) -> ([Float], [Float]) {
  var random = TestRandom(seed: seed)
  var target = [Float]()
  var prediction = [Float]()
  for _ in 0..<(n * c) {
    let f = random.uniform(4, 0.1...0.6)
    let phase = random.uniform(2, 0...6)
    for r in 0..<h {
      for q in 0..<w {
        let v =
          0.6 * sin(f[0] * Float(r) + f[1] * Float(q) + phase[0]) + 0.3
          * cos(f[2] * Float(r) - f[3] * Float(q) + phase[1])
        target.append(v)
        prediction.append(max(-1, min(1, v + noise * random.generator.nextNormal())))
      }
    }
  }
  return (prediction, target)
}

@Test(arguments: [(1, 20, 20), (3, 16, 23)])
func ssimOfIdenticalImagesIsOne(channels: Int, height: Int, width: Int) {
  let (x, _) = imagePair(2, channels, height, width, noise: 0, seed: 7)
  let t = Tensor(shape: [2, channels, height, width], values: x)
  for v in SSIM()(t, t) { #expect(abs(v - 1) < 1e-5, "SSIM \(v)") }
  for v in MSSSIM(scales: 2, windowSize: 5)(t, t) { #expect(abs(v - 1) < 1e-5, "MS-SSIM \(v)") }
  let loss = MSSSIMLoss(scales: 2, windowSize: 5)
  for v in loss.forward(prediction: t, target: t) { #expect(abs(v) < 1e-5, "1 − MS-SSIM \(v)") }
}

@Test func ssimMatchesReference() {
  let (n, c, h, w) = (2, 3, 18, 21)
  let (x, y) = imagePair(n, c, h, w, noise: 0.3, seed: 8)
  let values = SSIM()(Tensor(shape: [n, c, h, w], values: x), Tensor(shape: [n, c, h, w], values: y))
  let reference = ReferenceMSSSIM(scales: 1)
  let m = c * h * w
  for i in 0..<n {
    // With one scale the reference is the clamped channel mean of the map means; SSIM here is well above 0.
    let expected = reference.value(
      Array(x[(i * m)..<(i * m + m)]), Array(y[(i * m)..<(i * m + m)]), channels: c, height: h, width: w)
    #expect(abs(Double(values[i]) - expected) < 2e-5, "sample \(i): \(values[i]) vs \(expected)")
  }
}

/// One MS-SSIM configuration to test: value against the reference, gradient against central differences of
/// the reference (Double) at a sample of elements, for random per-sample weights.
private struct Case: CustomTestStringConvertible, Sendable {
  var n: Int, c: Int, h: Int, w: Int, scales: Int
  var afterProduct = false
  var noise: Float = 0.3
  var negate = false
  var unitRange = false
  /// ±0.6 checkerboard added to the prediction and subtracted from the target: the finest contrast-structure
  /// is negative (clamped) while pooling removes the checkerboard, so coarser scales stay positive.
  var checkerboard = false
  var testDescription: String {
    "\(n)×\(c)×\(h)×\(w) S=\(scales)\(afterProduct ? " per-channel" : "")\(negate ? " negated" : "")"
      + "\(unitRange ? " [0,1]" : "")\(checkerboard ? " checkerboard" : "")"
  }
}

private let cases: [Case] = [
  Case(n: 3, c: 1, h: 28, w: 28, scales: 2),
  Case(n: 2, c: 3, h: 32, w: 32, scales: 3),
  Case(n: 2, c: 3, h: 30, w: 29, scales: 3, afterProduct: true),
  Case(n: 1, c: 3, h: 64, w: 64, scales: 3, noise: 0.5),
  Case(n: 2, c: 1, h: 28, w: 28, scales: 2, negate: true),
  Case(n: 2, c: 2, h: 28, w: 27, scales: 2, afterProduct: true, unitRange: true),
  Case(n: 2, c: 1, h: 28, w: 28, scales: 2, noise: 0.05, checkerboard: true),
  Case(n: 1, c: 3, h: 32, w: 32, scales: 3, afterProduct: true, noise: 0.05, checkerboard: true),
]

@Test(arguments: cases)
private func msssimLossMatchesReference(_ k: Case) {
  var (x, y) = imagePair(k.n, k.c, k.h, k.w, noise: k.noise, seed: UInt64(k.h * 100 + k.c))
  if k.negate { x = y.map { -$0 } }  // anti-correlated: negative contrast-structure, clamped at 1e-6
  if k.checkerboard {
    let plane = k.h * k.w
    for j in 0..<x.count {
      let sign: Float = ((j % plane) / k.w + j % k.w) % 2 == 0 ? 0.6 : -0.6
      x[j] += sign
      y[j] -= sign
    }
  }
  if k.unitRange {
    x = x.map { ($0 + 1) / 2 }
    y = y.map { ($0 + 1) / 2 }
  }
  let shape = [k.n, k.c, k.h, k.w]
  let loss = MSSSIMLoss(
    scales: k.scales, inputRange: k.unitRange ? 0...1 : -1...1,
    channelReduction: k.afterProduct ? .afterProduct : .beforeProduct)
  let reference = ReferenceMSSSIM(
    scales: k.scales, inputRange: k.unitRange ? 0...1 : -1...1,
    averageChannelsFirst: !k.afterProduct)
  let target = Tensor(shape: shape, values: y)
  let values = loss.forward(prediction: Tensor(shape: shape, values: x), target: target)
  let m = k.c * k.h * k.w
  let sample = { (v: [Float], i: Int) in Array(v[(i * m)..<(i * m + m)]) }
  for i in 0..<k.n {
    let expected = 1 - reference.value(sample(x, i), sample(y, i), channels: k.c, height: k.h, width: k.w)
    #expect(abs(Double(values[i]) - expected) < 2e-5, "sample \(i): \(values[i]) vs \(expected)")
    // A clamped finest scale leaves at most (1e-6)^w₀ of the product.
    if k.checkerboard {
      let bound = 1 - pow(1e-6, loss.weights[0])
      #expect(Double(values[i]) > bound - 1e-3, "finest scale not clamped: loss \(values[i]), bound \(bound)")
    }
  }

  var random = TestRandom(seed: 11)
  let weights = random.uniform(k.n, -1...1)
  let analytic = loss.backward(weights: weights).array
  #expect(analytic.count == x.count)
  // A spread of elements in every sample and channel, including borders and corners.
  var indices: [Int] = []
  for i in 0..<k.n {
    for ch in 0..<k.c {
      let base = (i * k.c + ch) * k.h * k.w
      indices += [0, k.w - 1, k.h * k.w - 1, (k.h / 2) * k.w + k.w / 2].map { base + $0 }
      indices += (0..<6).map { _ in base + Int.random(in: 0..<(k.h * k.w), using: &random.generator) }
    }
  }
  let numeric = centralDifferences(x, eps: 1e-3, indices: indices) { p in
    // Only the perturbed sample changes; the others contribute constants that cancel.
    (0..<k.n).reduce(0.0) { s, i in
      s + Double(weights[i]) * (1 - reference.value(sample(p, i), sample(y, i), channels: k.c, height: k.h, width: k.w))
    }
  }
  let largest = numeric.map(abs).max() ?? 0
  #expect(largest > 1e-6 || k.negate, "gradient unexpectedly zero")
  expectGradientClose(analytic, numeric, indices: indices, rtol: 2e-3, atol: 1e-3 * largest + 1e-7, k.testDescription)

  // A directional derivative of the implementation itself along a random direction, over all elements.
  let direction = random.normal(x.count)
  let t: Float = 1e-2
  let along = { (s: Float) -> Double in
    let p = zip(x, direction).map { $0 + s * $1 }
    return weightedSum(loss.forward(prediction: Tensor(shape: shape, values: p), target: target), weights)
  }
  let slope = (along(t) - along(-t)) / Double(2 * t)
  let predicted = zip(analytic, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  #expect(abs(slope - predicted) <= 1e-2 * abs(predicted) + 1e-5, "directional: \(slope) vs \(predicted)")
}

@Test func msssimWorkspacesFollowTheBatchSize() {
  let (x, y) = imagePair(3, 1, 28, 28, noise: 0.3, seed: 12)
  let loss = MSSSIMLoss(scales: 2)
  let all = loss.forward(
    prediction: Tensor(shape: [3, 1, 28, 28], values: x), target: Tensor(shape: [3, 1, 28, 28], values: y))
  let gAll = loss.backward(weights: [0, 0, 1]).array
  let last = Array(x[(2 * 784)...])
  let lastTarget = Array(y[(2 * 784)...])
  let one = loss.forward(
    prediction: Tensor(shape: [1, 1, 28, 28], values: last), target: Tensor(shape: [1, 1, 28, 28], values: lastTarget))
  let gOne = loss.backward(weights: [1])
  #expect(gOne.shape == [1, 1, 28, 28])
  #expect(one[0] == all[2])
  #expect(gAll.prefix(2 * 784).allSatisfy { $0 == 0 })
  #expect(zip(gAll[(2 * 784)...], gOne.array).allSatisfy { $0 == $1 })
}

@Test func msssimWeightsAreRenormalised() {
  #expect(abs(MSSSIM(scales: 2).weights[0] - 0.0448 / 0.3304) < 1e-12)
  #expect(abs(MSSSIM(scales: 3).weights.reduce(0, +) - 1) < 1e-12)
  #expect(MSSSIM.defaultScales(height: 28, width: 28) == 2 && MSSSIM.defaultScales(height: 64, width: 64) == 3)
}
