import Foundation
import NN
import Tensor
import Testing

/// Forward values against naive loops, PyTorch bookkeeping (BN running statistics, names), gradient
/// accumulation, `needsInputGradient` and workspace reuse.
struct LayerValueTests {
  @Test(arguments: [(3, 4, 3, 1, 1, 5, 5), (2, 3, 4, 2, 1, 8, 6), (3, 2, 3, 2, 0, 7, 7), (2, 2, 4, 1, 0, 4, 4)])
  func conv2dForwardMatchesNaiveLoops(_ c: (Int, Int, Int, Int, Int, Int, Int)) {
    let (cin, cout, k, s, p, h, w) = c
    let layer = Conv2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: p)
    randomiseParameters(layer, seed: 1)
    let n = 3
    let x = randomTensor([n, cin, h, w], seed: 2)
    let y = layer.forward(x)
    let ho = (h + 2 * p - k) / s + 1
    let wo = (w + 2 * p - k) / s + 1
    #expect(y.shape == [n, cout, ho, wo])
    let wt = layer.weight.value
    let b = layer.bias!.value
    var expected = [Double](repeating: 0, count: n * cout * ho * wo)
    for i in 0..<n {
      for o in 0..<cout {
        for oh in 0..<ho {
          for ow in 0..<wo {
            var acc = Double(b[o])
            for ch in 0..<cin {
              for ki in 0..<k {
                for kj in 0..<k {
                  let ih = oh * s - p + ki
                  let iw = ow * s - p + kj
                  guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                  acc += Double(wt[((o * cin + ch) * k + ki) * k + kj]) * Double(x[((i * cin + ch) * h + ih) * w + iw])
                }
              }
            }
            expected[((i * cout + o) * ho + oh) * wo + ow] = acc
          }
        }
      }
    }
    expectClose(y.array, expected, tolerance: 1e-5, "Conv2d\(c)")
  }

  /// Includes the DCGAN first layer (k4 s1 p0 on 1×1) and the upsampling layers (k4 s2 p1).
  @Test(arguments: [
    (5, 3, 4, 1, 0, 1, 1), (3, 2, 4, 2, 1, 4, 4), (2, 3, 3, 2, 0, 3, 2), (2, 2, 7, 1, 0, 1, 1), (3, 2, 3, 1, 1, 4, 5),
  ])
  func convTranspose2dForwardMatchesNaiveScatter(_ c: (Int, Int, Int, Int, Int, Int, Int)) {
    let (cin, cout, k, s, p, h, w) = c
    let layer = ConvTranspose2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: p)
    randomiseParameters(layer, seed: 3)
    let n = 3
    let x = randomTensor([n, cin, h, w], seed: 4)
    let y = layer.forward(x)
    let ho = (h - 1) * s - 2 * p + k
    let wo = (w - 1) * s - 2 * p + k
    #expect(y.shape == [n, cout, ho, wo])
    let wt = layer.weight.value
    let b = layer.bias!.value
    var expected = [Double](repeating: 0, count: n * cout * ho * wo)
    for i in 0..<n {
      for o in 0..<cout {
        for j in 0..<(ho * wo) { expected[(i * cout + o) * ho * wo + j] = Double(b[o]) }
      }
      // Every input pixel scatters weight[ci, co] · x into the output window at (ih·s − p, iw·s − p).
      for ci in 0..<cin {
        for ih in 0..<h {
          for iw in 0..<w {
            let v = Double(x[((i * cin + ci) * h + ih) * w + iw])
            for o in 0..<cout {
              for ki in 0..<k {
                for kj in 0..<k {
                  let oh = ih * s - p + ki
                  let ow = iw * s - p + kj
                  guard oh >= 0, oh < ho, ow >= 0, ow < wo else { continue }
                  expected[((i * cout + o) * ho + oh) * wo + ow] += v * Double(wt[((ci * cout + o) * k + ki) * k + kj])
                }
              }
            }
          }
        }
      }
    }
    expectClose(y.array, expected, tolerance: 1e-5, "ConvTranspose2d\(c)")
  }

  @Test func linearForwardMatchesNaiveLoops() {
    let layer = Linear(inFeatures: 6, outFeatures: 4)
    randomiseParameters(layer, seed: 5)
    let x = randomTensor([3, 6], seed: 6)
    let y = layer.forward(x)
    #expect(y.shape == [3, 4])
    var expected = [Double](repeating: 0, count: 12)
    for i in 0..<3 {
      for o in 0..<4 {
        var acc = Double(layer.bias!.value[o])
        for j in 0..<6 { acc += Double(layer.weight.value[o * 6 + j]) * Double(x[i * 6 + j]) }
        expected[i * 4 + o] = acc
      }
    }
    expectClose(y.array, expected, tolerance: 1e-6, "Linear")
  }

  /// Per-channel mean, biased variance and unbiased variance of `[N, C, H, W]` data, in Double.
  static func channelStatistics(_ x: Tensor) -> (mean: [Double], biased: [Double], unbiased: [Double]) {
    let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var mean = [Double](repeating: 0, count: c)
    var biased = mean
    var unbiased = mean
    for ch in 0..<c {
      var values: [Double] = []
      for i in 0..<n { for j in 0..<plane { values.append(Double(x[(i * c + ch) * plane + j])) } }
      let m = values.reduce(0, +) / Double(values.count)
      let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
      (mean[ch], biased[ch], unbiased[ch]) = (m, ss / Double(values.count), ss / Double(values.count - 1))
    }
    return (mean, biased, unbiased)
  }

  @Test func batchNormTrainingNormalisesAndUpdatesRunningStatisticsLikePyTorch() {
    let bn = BatchNorm2d(channels: 3, eps: 1e-5, momentum: 0.1)
    #expect(bn.weight.value.array == [1, 1, 1] && bn.bias.value.array == [0, 0, 0])
    #expect(bn.runningMean.array == [0, 0, 0] && bn.runningVar.array == [1, 1, 1])
    #expect(bn.numBatchesTracked.array == [0])
    randomiseParameters(bn, seed: 7, scale: 0.5, offset: 1)
    var expectedMean = [Double](repeating: 0, count: 3)
    var expectedVar = [Double](repeating: 1, count: 3)
    for step in 0..<3 {
      let x = randomTensor([4, 3, 3, 2], seed: 8 + UInt64(step), scale: 3)
      for i in 0..<x.count { x[i] += 2 }
      let y = bn.forward(x)
      let stats = Self.channelStatistics(x)
      var expected = [Double](repeating: 0, count: x.count)
      for i in 0..<x.count {
        let ch = (i / 6) % 3
        expected[i] =
          (Double(x[i]) - stats.mean[ch]) / (stats.biased[ch] + 1e-5).squareRoot()
          * Double(bn.weight.value[ch]) + Double(bn.bias.value[ch])
      }
      expectClose(y.array, expected, tolerance: 1e-5, "BN training output, step \(step)")
      for ch in 0..<3 {
        expectedMean[ch] = 0.9 * expectedMean[ch] + 0.1 * stats.mean[ch]
        expectedVar[ch] = 0.9 * expectedVar[ch] + 0.1 * stats.unbiased[ch]
      }
      expectClose(bn.runningMean.array, expectedMean, tolerance: 1e-6, "running_mean, step \(step)")
      expectClose(bn.runningVar.array, expectedVar, tolerance: 1e-6, "running_var, step \(step)")
      #expect(bn.numBatchesTracked.array == [Float(step + 1)])
    }
  }

  @Test func batchNormInferenceUsesRunningStatisticsAndUpdatesNothing() {
    let bn = BatchNorm2d(channels: 2, eps: 1e-3)
    randomiseParameters(bn, seed: 9, scale: 0.5, offset: 1)
    bn.runningMean.copy(from: Tensor(shape: [2], values: [0.5, -1]))
    bn.runningVar.copy(from: Tensor(shape: [2], values: [2, 0.25]))
    bn.setMode(.inference)
    let x = randomTensor([2, 2, 3, 3], seed: 10)
    let y = bn.forward(x)
    var expected = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
      let ch = (i / 9) % 2
      expected[i] =
        (Double(x[i]) - Double(bn.runningMean[ch])) / (Double(bn.runningVar[ch]) + 1e-3).squareRoot()
        * Double(bn.weight.value[ch]) + Double(bn.bias.value[ch])
    }
    expectClose(y.array, expected, tolerance: 1e-6, "BN inference output")
    #expect(bn.runningMean.array == [0.5, -1] && bn.runningVar.array == [2, 0.25])
    #expect(bn.numBatchesTracked.array == [0])
    // A single sample per channel is fine in inference mode (it would be an error in training).
    #expect(bn.forward(randomTensor([1, 2, 1, 1], seed: 11)).shape == [1, 2, 1, 1])
  }

  @Test func stateDictUsesPyTorchNames() {
    let net = Sequential([
      ConvTranspose2d(inChannels: 4, outChannels: 2, kernelSize: 4, bias: false), BatchNorm2d(channels: 2), ReLU(),
      Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3), Flatten(), Linear(inFeatures: 3, outFeatures: 1),
    ])
    let shapes = net.stateDict().mapValues(\.shape)
    #expect(
      shapes == [
        "0.weight": [4, 2, 4, 4], "1.weight": [2], "1.bias": [2], "1.running_mean": [2], "1.running_var": [2],
        "1.num_batches_tracked": [1], "3.weight": [3, 2, 3, 3], "3.bias": [3], "5.weight": [1, 3], "5.bias": [1],
      ])
    // Convolution and linear weights start at zero; models initialise them.
    #expect(
      net.namedParameters().filter { !$0.0.hasPrefix("1.") }.allSatisfy { $0.1.value.array.allSatisfy { $0 == 0 } })
  }

  @Test func maxPoolPicksTheFirstMaximumAndFloorsTheOutputSize() {
    // 1×1×3×5 with a tie in the first window; floor mode drops the last column.
    let x = Tensor(shape: [1, 1, 3, 5], values: [1, 3, 0, 2, 9, 3, 2, 5, 1, 9, 9, 9, 9, 9, 9])
    let pool = MaxPool2d(kernelSize: 2)
    let y = pool.forward(x)
    #expect(y.shape == [1, 1, 1, 2] && y.array == [3, 5])
    let dx = pool.backward(Tensor(shape: [1, 1, 1, 2], values: [10, 20]))
    #expect(dx.array == [0, 10, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0])
  }

  @Test func activationsMatchTheirFormulas() {
    let x = Tensor(shape: [1, 5], values: [-2, -0.5, 0, 0.5, 2])
    #expect(ReLU().forward(x).array == [0, 0, 0, 0.5, 2])
    #expect(LeakyReLU().forward(x).array == [-0.02, -0.005, 0, 0.5, 2])
    #expect(LeakyReLU(negativeSlope: 0.2).forward(x).array == [-0.4, -0.1, 0, 0.5, 2])
    expectClose(Tanh().forward(x).array, x.array.map { Foundation.tanh(Double($0)) }, tolerance: 1e-6, "Tanh")
    expectClose(
      Sigmoid().forward(x).array, x.array.map { 1 / (1 + Foundation.exp(-Double($0))) }, tolerance: 1e-6, "Sigmoid")
  }

  @Test func flattenAndUnflattenReshapeWithoutCopying() {
    let x = randomTensor([2, 3, 2, 2], seed: 12)
    let flat = Flatten().forward(x)
    #expect(flat.shape == [2, 12] && flat.pointer == x.pointer)
    let unflatten = Unflatten(shape: [3, 2, 2])
    let back = unflatten.forward(flat)
    #expect(back.shape == [2, 3, 2, 2] && back.array == x.array)
    let d = unflatten.backward(randomTensor([2, 3, 2, 2], seed: 13))
    #expect(d.shape == [2, 12])
  }

  /// Layers whose first input needs no gradient: same parameter gradients, empty dInput.
  @Test func skippingTheInputGradientKeepsParameterGradients() {
    let layers: [(Layer, [Int])] = [
      (Conv2d(inChannels: 2, outChannels: 3, kernelSize: 4, stride: 2, padding: 1), [2, 2, 6, 6]),
      (ConvTranspose2d(inChannels: 4, outChannels: 2, kernelSize: 4), [2, 4, 1, 1]),
      (Linear(inFeatures: 5, outFeatures: 3), [2, 5]),
    ]
    for (k, (layer, shape)) in layers.enumerated() {
      randomiseParameters(layer, seed: 14 + UInt64(k))
      let x = randomTensor(shape, seed: 20 + UInt64(k))
      let dy = randomTensor(layer.forward(x).shape, seed: 30 + UInt64(k))
      layer.zeroGradients()
      #expect(layer.backward(dy).count > 0)
      let full = layer.namedParameters().map { $0.1.grad.array }
      switch layer {
      case let l as Conv2d: l.needsInputGradient = false
      case let l as ConvTranspose2d: l.needsInputGradient = false
      case let l as Linear: l.needsInputGradient = false
      default: Issue.record("unexpected layer")
      }
      layer.zeroGradients()
      _ = layer.forward(x)
      let dx = layer.backward(dy)
      #expect(dx.shape == [0], "\(type(of: layer)) dInput \(dx.shape)")
      #expect(layer.namedParameters().map { $0.1.grad.array } == full, "\(type(of: layer))")
    }
  }

  /// Backward adds into parameter gradients (PyTorch semantics), and repeated shapes reuse the same tensors.
  @Test func gradientsAccumulateAndWorkspacesAreReused() {
    let layers: [(Layer, [Int])] = [
      (Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1), [2, 2, 4, 4]),
      (ConvTranspose2d(inChannels: 3, outChannels: 2, kernelSize: 4, stride: 2, padding: 1), [2, 3, 3, 3]),
      (Linear(inFeatures: 4, outFeatures: 3), [2, 4]), (BatchNorm2d(channels: 2), [3, 2, 2, 2]),
      (ReLU(), [2, 3]), (LeakyReLU(), [2, 3]), (Tanh(), [2, 3]), (Sigmoid(), [2, 3]),
      (MaxPool2d(kernelSize: 2), [1, 2, 4, 4]), (Flatten(), [2, 2, 2]), (Unflatten(shape: [2, 2]), [3, 4]),
    ]
    for (k, (layer, shape)) in layers.enumerated() {
      let name = "\(type(of: layer))"
      randomiseParameters(layer, seed: 40 + UInt64(k), scale: 0.5, offset: 0.5)
      let x = randomTensor(shape, seed: 50 + UInt64(k))
      let y1 = layer.forward(x)
      let firstOutput = y1.array
      let dy = randomTensor(y1.shape, seed: 60 + UInt64(k))
      layer.zeroGradients()
      let dx1 = layer.backward(dy)
      let firstInputGradient = dx1.array
      let once = layer.namedParameters().map { $0.1.grad.array }
      let y2 = layer.forward(x)
      #expect(y2 === y1, "\(name) output reused")
      #expect(y2.array == firstOutput, "\(name) deterministic")
      let dx2 = layer.backward(dy)
      #expect(dx2 === dx1, "\(name) dInput reused")
      #expect(dx2.array == firstInputGradient, "\(name) deterministic dInput")
      for ((pname, p), g) in zip(layer.namedParameters(), once) {
        let expected = g.map { Double($0) * 2 }
        expectClose(p.grad.array, expected, tolerance: 1e-6, "\(name).\(pname) accumulated")
      }
    }
  }
}
