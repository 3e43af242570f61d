import Foundation
import NN
import Tensor

/// Seconds spent per stage and kernel of the fast generator path, summed over calls since `reset()`
/// (`unlearn bench --profile`).
public final class GeneratorProfile {
  /// `[stage][kernel]`; kernels: "forward gemm", "col2im+epilogue", "act/bn backward", "im2col",
  /// "weight gemm", "input gemm", "layout".
  public private(set) var seconds: [[String: Double]] = []
  public private(set) var calls = 0
  public init() {}
  public func reset() {
    seconds = []
    calls = 0
  }
  func add(_ stage: Int, _ kernel: String, _ t: Double) {
    while seconds.count <= stage { seconds.append([:]) }
    seconds[stage][kernel, default: 0] += t
  }
  func count() { calls += 1 }
}

@inline(__always) func monotonicSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// The fast path of ``DCGANGenerator`` when its BatchNorm layers use frozen statistics (inference mode, as
/// in unlearning, sampling and evaluation): the same layers and parameters, run in the batch-last blocked
/// layout of `Tensor`'s `batchLast*` kernels.
///
/// Layout: a tensor of per-sample size `F = C·H·W` is stored as consecutive blocks of `nb` samples (the
/// last block may be shorter); block `b` starts at `F·start(b)` and is `[C, H, W, nb(b)]`. Each stage
/// `ConvT → BN → ReLU` (or `ConvT → Tanh`) is, per block:
///
///     forward:  columns[Cout·k², H·W·nb] = Wᵀ[Cout·k², Cin] · X[Cin, H·W·nb]            (one sgemm)
///               pre, post = col2im(columns) with the frozen BN affine and ReLU fused     (one pass)
///     backward: dPre = ReLU′(post) · dPost · scale, BN sums Σ dPre′, Σ dPre′·x̂          (one pass)
///               dColumns = im2col(dPre); dW += X · dColumnsᵀ; dX = W · dColumns        (two sgemms)
///
/// so there is no NCHW↔CNHW permute, no stride-2 scalar scatter and no separate BN or activation pass.
/// Gradients accumulate into the layers' `Parameter.grad` like the layer path, and `main.onLayerBackward`
/// fires for every layer index in the same (reverse) order once that layer's gradients are final.
final class GeneratorEngine {
  enum Activation { case relu, tanh }

  /// One `ConvT [BN] activation` group of `main`.
  struct Stage {
    let convolution: ConvTranspose2d
    let norm: BatchNorm2d?
    let activation: Activation
    /// Indices in `main.layers`, in backward order (activation, norm, convolution).
    let layerIndices: [Int]
    /// The convolution this stage is the adjoint of: image = the stage output, grid = the stage input.
    let geometry: ConvolutionGeometry
    /// A 1×1 input whose kernel covers the whole output (DCGAN's first layer): the column matrix
    /// `[Cout·k·k, nb]` *is* the output block, so col2im and im2col are skipped.
    var identity: Bool {
      geometry.outputPlane == 1 && geometry.padding == 0 && geometry.kernelHeight == geometry.height
        && geometry.kernelWidth == geometry.width
    }
    var inputFeatures: Int { convolution.inChannels * geometry.outputPlane }
    var outputFeatures: Int { convolution.outChannels * geometry.inputPlane }
    /// `[C]` frozen BN affine (`scale = w/√(var + eps)`, `shift = b − mean·scale`), `1/√(var + eps)` and the
    /// running mean, refreshed by every forward (the parameters change between steps).
    let scale: Tensor
    let shift: Tensor
    let inverseStd: Tensor
    let mean: Tensor
    /// `[N·outputFeatures]` blocked: the convolution output (kept for BN backward) and the activation.
    var preActivation: Tensor?
    var output: Tensor?
  }

  let main: Sequential
  private(set) var stages: [Stage]
  let latentDim: Int
  /// Samples per block; 0 chooses automatically.
  var preferredBlock = 0
  /// When set, kernels are timed into it.
  var profile: GeneratorProfile?

  private var batch = 0
  private var block = 0
  private var retained = false
  private var latents: Tensor?  // [N·nz] blocked
  private var columns: Tensor?  // per-block workspace
  private var stageGradient: Tensor?  // per-block dPre workspace
  private var gradientA: Tensor?  // ping-pong dPost / dInput, blocked
  private var gradientB: Tensor?
  private var output: Tensor?  // [N, C, H, W]
  private var dLatents: Tensor?  // [N, nz]
  private var channelSums: [Double] = []  // Σ dPre, Σ dPre·x̂ per channel of one stage
  private let empty = Tensor(shape: [0])

  /// Returns nil unless `main` is `[ConvT, BN, ReLU]* ConvT Tanh` without convolution biases, starting from a
  /// 1×1 input.
  init?(main: Sequential, latentDim: Int) {
    self.main = main
    self.latentDim = latentDim
    var stages: [Stage] = []
    let layers = main.layers
    var i = 0
    var side = 1
    var channels = latentDim
    while i < layers.count {
      guard let conv = layers[i] as? ConvTranspose2d, conv.bias == nil, conv.inChannels == channels else { return nil }
      let out = (side - 1) * conv.stride - 2 * conv.padding + conv.kernelSize
      guard out > 0 else { return nil }
      let g = ConvolutionGeometry(
        channels: conv.outChannels, height: out, width: out, kernelSize: conv.kernelSize, stride: conv.stride,
        padding: conv.padding)
      guard g.outputHeight == side && g.outputWidth == side else { return nil }
      let c = conv.outChannels
      if i + 2 < layers.count, let bn = layers[i + 1] as? BatchNorm2d, bn.channels == c, layers[i + 2] is ReLU {
        stages.append(
          Stage(
            convolution: conv, norm: bn, activation: .relu, layerIndices: [i + 2, i + 1, i], geometry: g,
            scale: Tensor(shape: [c]), shift: Tensor(shape: [c]), inverseStd: Tensor(shape: [c]),
            mean: Tensor(shape: [c])))
        i += 3
      } else if i + 1 == layers.count - 1, layers[i + 1] is Tanh {
        stages.append(
          Stage(
            convolution: conv, norm: nil, activation: .tanh, layerIndices: [i + 1, i], geometry: g,
            scale: Tensor(shape: [c]), shift: Tensor(shape: [c]), inverseStd: Tensor(shape: [c]),
            mean: Tensor(shape: [c])))
        i += 2
      } else {
        return nil
      }
      side = out
      channels = c
    }
    guard stages.last?.activation == .tanh else { return nil }
    self.stages = stages
  }

  /// Bytes held by the fast path's activations and workspaces.
  var workspaceBytes: Int {
    var tensors: [Tensor?] = [latents, columns, stageGradient, gradientA, gradientB, output, dLatents]
    for st in stages { tensors += [st.preActivation, st.output] }
    return 4 * tensors.reduce(0) { $0 + ($1?.capacity ?? 0) }
  }

  /// True when every BatchNorm uses its running statistics (the engine's semantics).
  var applies: Bool { stages.allSatisfy { $0.norm?.mode ?? .inference == .inference } }

  /// Output `[C, H, W]` of the last stage.
  var outputShape: [Int] {
    let g = stages.last!.geometry
    return [g.channels, g.height, g.width]
  }

  /// Block size for a batch of `n`: whole batches up to 32 samples, else blocks of 32 (wide enough for
  /// efficient GEMMs, small enough that a block's column matrix stays in cache).
  func blockSize(_ n: Int) -> Int {
    if preferredBlock > 0 { return min(preferredBlock, n) }
    return min(n, 32)
  }

  /// Runs `body`, adding its duration to `profile` when profiling.
  @inline(__always)
  private func timed(_ stage: Int, _ kernel: String, _ body: () -> Void) {
    guard let profile else { return body() }
    let t = monotonicSeconds()
    body()
    profile.add(stage, kernel, monotonicSeconds() - t)
  }

  /// Calls `body(start, count)` for every block of the current batch.
  @inline(__always)
  private func forEachBlock(_ body: (Int, Int) -> Void) {
    var start = 0
    while start < batch {
      let nb = min(block, batch - start)
      body(start, nb)
      start += nb
    }
  }

  /// z `[N·nz]` (rows) → images `[N, C, H, W]`. With `retain` false (frozen copies), nothing is kept for
  /// backward.
  func forward(_ z: UnsafePointer<Float>, batch n: Int, retain: Bool) -> Tensor {
    batch = n
    block = blockSize(n)
    retained = retain
    let zb = Tensor.reuse(latents, shape: [n * latentDim])
    latents = zb
    forEachBlock { start, nb in
      batchLastGather(z, features: latentDim, start: start, batchBlock: nb, into: zb.pointer + start * latentDim)
    }
    var columnsSize = 0
    for s in stages.indices {
      let st = stages[s]
      columnsSize = max(columnsSize, st.geometry.columnRows * st.geometry.outputPlane * block)
      if let bn = st.norm {
        let (sc, sh, istd, mu) = (st.scale.pointer, st.shift.pointer, st.inverseStd.pointer, st.mean.pointer)
        let (w, b) = (bn.weight.value.pointer, bn.bias.value.pointer)
        // Exactly BatchNorm2d's inference arithmetic.
        for c in 0..<bn.channels {
          mu[c] = bn.runningMean[c]
          istd[c] = 1 / (bn.runningVar[c] + bn.eps).squareRoot()
          sc[c] = istd[c] * w[c]
          sh[c] = b[c] - mu[c] * sc[c]
        }
      }
      stages[s].output = Tensor.reuse(st.output, shape: [n * st.outputFeatures])
      if retain && st.activation == .relu {
        stages[s].preActivation = Tensor.reuse(st.preActivation, shape: [n * st.outputFeatures])
      }
    }
    let cols = Tensor.reuse(columns, shape: [columnsSize])
    columns = cols

    var input = zb
    for (si, st) in stages.enumerated() {
      let g = st.geometry
      let conv = st.convolution
      let out = st.output!
      let (inF, outF) = (st.inputFeatures, st.outputFeatures)
      forEachBlock { start, nb in
        let x = input.pointer + start * inF
        let y = out.pointer + start * outF
        if st.identity {
          // The GEMM writes the output block; then the epilogue in place.
          let pre = retain && st.activation == .relu ? st.preActivation!.pointer + start * outF : y
          timed(si, "forward gemm") {
            sgemm(
              transA: true, m: g.columnRows, n: nb, k: conv.inChannels, a: conv.weight.value.pointer, b: x, c: pre)
          }
          timed(si, "col2im+epilogue") {
            switch st.activation {
            case .relu:
              batchLastAffineReLU(
                pre, channels: conv.outChannels, length: g.inputPlane * nb, scale: st.scale.pointer,
                shift: st.shift.pointer, into: y)
            case .tanh:
              fastTanh(y, y, outF * nb)
            }
          }
          return
        }
        // columns[Cout·k², H·W·nb] = W[Cin, Cout·k²]ᵀ · X[Cin, H·W·nb]
        timed(si, "forward gemm") {
          sgemm(
            transA: true, m: g.columnRows, n: g.outputPlane * nb, k: conv.inChannels, a: conv.weight.value.pointer,
            b: x, c: cols.pointer)
        }
        timed(si, "col2im+epilogue") {
          switch st.activation {
          case .relu:
            let pre = retain ? st.preActivation!.pointer + start * outF : y
            batchLastCol2im(
              cols.pointer, batchBlock: nb, geometry: g, into: pre,
              epilogue: .affineReLU(scale: st.scale.pointer, shift: st.shift.pointer, activated: y))
          case .tanh:
            batchLastCol2im(cols.pointer, batchBlock: nb, geometry: g, into: y, epilogue: .tanh)
          }
        }
      }
      input = out
    }
    let shape = outputShape
    let features = shape.reduce(1, *)
    let images = Tensor.reuse(output, shape: [n] + shape)
    output = images
    let last = input
    timed(stages.count - 1, "layout") {
      forEachBlock { start, nb in
        batchLastScatter(
          last.pointer + start * features, features: features, start: start, batchBlock: nb, into: images.pointer)
      }
    }
    profile?.count()
    return images
  }

  /// dImages `[N, C, H, W]` → dz `[N, nz]` (empty unless `inputGradient`); accumulates every parameter
  /// gradient and calls `main.onLayerBackward` per layer.
  func backward(_ dOutput: Tensor, inputGradient: Bool) -> Tensor {
    precondition(retained, "DCGANGenerator.backward after a forward-only pass")
    let n = batch
    precondition(dOutput.count == n * outputShape.reduce(1, *), "DCGANGenerator dOutput \(dOutput.shape)")
    var maxGradient = 0
    var maxStage = 0
    for st in stages {
      maxGradient = max(maxGradient, n * st.inputFeatures)
      maxStage = max(maxStage, block * st.outputFeatures)
    }
    let ga = Tensor.reuse(gradientA, shape: [maxGradient])
    let gb = Tensor.reuse(gradientB, shape: [maxGradient])
    gradientA = ga
    gradientB = gb
    let dPre = Tensor.reuse(stageGradient, shape: [maxStage])
    stageGradient = dPre
    let cols = columns!
    var dPost = ga  // gradient w.r.t. the current stage's output (blocked); unused for the last stage
    var dIn = gb

    for s in stages.indices.reversed() {
      let st = stages[s]
      let g = st.geometry
      let conv = st.convolution
      let (inF, outF) = (st.inputFeatures, st.outputFeatures)
      let plane = g.inputPlane
      let input = s == 0 ? latents! : stages[s - 1].output!
      let wantsInput = s > 0 || inputGradient
      if channelSums.count < 2 * conv.outChannels { channelSums = [Double](repeating: 0, count: 2 * conv.outChannels) }
      for c in 0..<(2 * conv.outChannels) { channelSums[c] = 0 }
      channelSums.withUnsafeMutableBufferPointer { sumsBuffer in
        forEachBlock { start, nb in
          let y = st.output!.pointer + start * outF
          timed(s, "act/bn backward") {
            switch st.activation {
            case .tanh:
              batchLastGather(dOutput.pointer, features: outF, start: start, batchBlock: nb, into: dPre.pointer)
              tanhBackward(dPre.pointer, output: y, count: nb * outF)
            case .relu:
              reluNormBackward(
                dPost.pointer + start * outF, output: y, preActivation: st.preActivation!.pointer + start * outF,
                stage: st, channelLength: plane * nb, into: dPre.pointer, sums: sumsBuffer.baseAddress!)
            }
          }
          // dColumns[Cout·k², H·W·nb] = im2col(dPre) (dPre itself for an identity stage)
          let dColumns = st.identity ? dPre.pointer : cols.pointer
          if !st.identity {
            timed(s, "im2col") { batchLastIm2col(dPre.pointer, batchBlock: nb, geometry: g, into: cols.pointer) }
          }
          // dW[Cin, Cout·k²] += X[Cin, H·W·nb] · dColumnsᵀ
          timed(s, "weight gemm") {
            sgemm(
              transB: true, m: conv.inChannels, n: g.columnRows, k: g.outputPlane * nb, a: input.pointer + start * inF,
              b: dColumns, beta: 1, c: conv.weight.grad.pointer)
          }
          if wantsInput {
            // dX[Cin, H·W·nb] = W[Cin, Cout·k²] · dColumns
            timed(s, "input gemm") {
              sgemm(
                m: conv.inChannels, n: g.outputPlane * nb, k: g.columnRows, a: conv.weight.value.pointer,
                b: dColumns, c: dIn.pointer + start * inF)
            }
          }
        }
      }
      if let bn = st.norm {
        let (dw, db) = (bn.weight.grad.pointer, bn.bias.grad.pointer)
        for c in 0..<bn.channels {
          db[c] += Float(channelSums[c])
          dw[c] += Float(channelSums[bn.channels + c])
        }
      }
      for li in st.layerIndices { main.onLayerBackward?(li) }
      swap(&dPost, &dIn)
    }
    guard inputGradient else { return empty }
    let dz = Tensor.reuse(dLatents, shape: [n, latentDim])
    dLatents = dz
    let src = dPost  // swapped after stage 0: holds dX of stage 0
    forEachBlock { start, nb in
      batchLastScatter(
        src.pointer + start * latentDim, features: latentDim, start: start, batchBlock: nb, into: dz.pointer)
    }
    return dz
  }

  /// `d ← d · (1 − y²)`.
  private func tanhBackward(_ d: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { d[i] = d[i] * (1 - y[i] * y[i]) }
  }

  /// ReLU then frozen-BN backward for one block, channel by channel over contiguous `[H·W·nb]` runs:
  /// `g = post > 0 ? dPost : 0`, `Σ g` and `Σ g·x̂` into `sums`, `dPre = g · scale`.
  private func reluNormBackward(
    _ dPost: UnsafePointer<Float>, output post: UnsafePointer<Float>, preActivation pre: UnsafePointer<Float>,
    stage st: Stage, channelLength len: Int, into dPre: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Double>
  ) {
    let channels = st.convolution.outChannels
    let (sc, istd, mu) = (st.scale.pointer, st.inverseStd.pointer, st.mean.pointer)
    let zero = SIMD8<Float>(repeating: 0)
    for c in 0..<channels {
      let base = c * len
      let (dp, o, x, d) = (dPost + base, post + base, pre + base, dPre + base)
      let vs = SIMD8<Float>(repeating: sc[c])
      // Sums in Double per element, as BatchNorm2d does: the data-parallel runs compare weights after many
      // Adam steps, which amplify gradient rounding.
      let (md, sd) = (SIMD8<Double>(repeating: Double(mu[c])), SIMD8<Double>(repeating: Double(istd[c])))
      var accG = SIMD8<Double>(repeating: 0)
      var accGX = SIMD8<Double>(repeating: 0)
      var i = 0
      while i + 8 <= len {
        let gv = UnsafeRawPointer(dp + i).loadUnaligned(as: SIMD8<Float>.self)
        let ov = UnsafeRawPointer(o + i).loadUnaligned(as: SIMD8<Float>.self)
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let g = gv.replacing(with: zero, where: .!(ov .> zero))
        UnsafeMutableRawPointer(d + i).storeBytes(of: g * vs, as: SIMD8<Float>.self)
        let gd = SIMD8<Double>(g)
        accG += gd
        accGX += gd * (SIMD8<Double>(xv) - md) * sd
        i += 8
      }
      var sumG = accG.sum()
      var sumGX = accGX.sum()
      while i < len {
        let g = o[i] > 0 ? dp[i] : 0
        sumG += Double(g)
        sumGX += Double(g) * (Double(x[i]) - Double(mu[c])) * Double(istd[c])
        d[i] = g * sc[c]
        i += 1
      }
      sums[c] += sumG
      sums[channels + c] += sumGX
    }
  }
}
