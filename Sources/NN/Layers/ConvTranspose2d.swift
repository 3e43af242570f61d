import Tensor

/// 2-D transposed convolution, PyTorch `nn.ConvTranspose2d` (square kernel, no output padding, dilation or
/// groups): the adjoint of a Conv2d with the same kernel, stride and padding.
///
/// Shapes: input `[N, Cin, H, W]`, output `[N, Cout, Ho, Wo]` with `Ho = (H − 1)·stride − 2·padding + k`,
/// `weight` `[Cin, Cout, k, k]` (PyTorch layout), `bias` `[Cout]`. Weights start at zero (models initialise
/// them). A `[N, nz, 1, 1]` input (DCGAN's first layer) gives `[N, Cout, k, k]` when stride 1, padding 0.
///
/// Forward is one sgemm `Wᵀ[Cout·k·k, Cin] · X[Cin, N·H·W]` over the whole batch and one col2im; the
/// channels-major copy of the input is kept for the weight gradient. Backward is one im2col of the output
/// gradient and two sgemms.
public final class ConvTranspose2d: Layer {
  public let inChannels: Int
  public let outChannels: Int
  public let kernelSize: Int
  public let stride: Int
  public let padding: Int
  /// `[Cin, Cout, k, k]`
  public let weight: Parameter
  /// `[Cout]`, or nil when built with `bias: false`.
  public let bias: Parameter?
  /// When false, `backward` only accumulates parameter gradients and returns an empty tensor (shape [0]).
  public var needsInputGradient = true

  /// The convolution whose adjoint this is: it maps the `[N, Cout, Ho, Wo]` output back to `[N, Cin, H, W]`.
  private var geometry: ConvolutionGeometry?
  private var batch = 0
  /// `[Cin, N·H·W]`: the input, channels-major (kept for the weight gradient); reused for dInput.
  private var inputChannelsMajor: Tensor?
  private var dInputChannelsMajor: Tensor?
  /// `[Cout·k·k, N·H·W]`: output columns (forward) or im2col of the output gradient (backward).
  private var columns: Tensor?
  private var output: Tensor?
  private var dInput: Tensor?
  private let empty = Tensor(shape: [0])

  public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true)
  {
    precondition(
      inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0, "bad ConvTranspose2d")
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernelSize = kernelSize
    self.stride = stride
    self.padding = padding
    weight = Parameter(shape: [inChannels, outChannels, kernelSize, kernelSize])
    self.bias = bias ? Parameter(shape: [outChannels]) : nil
  }

  public var localParameters: [(String, Parameter)] {
    var out = [("weight", weight)]
    if let b = bias { out.append(("bias", b)) }
    return out
  }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(
      input.shape.count == 4 && input.shape[1] == inChannels,
      "ConvTranspose2d(\(inChannels)→\(outChannels)) got \(input.shape)")
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
    let ho = (h - 1) * stride - 2 * padding + kernelSize
    let wo = (w - 1) * stride - 2 * padding + kernelSize
    precondition(ho > 0 && wo > 0, "ConvTranspose2d output \(ho)×\(wo) for input \(input.shape)")
    let g = ConvolutionGeometry(
      channels: outChannels, height: ho, width: wo, kernelSize: kernelSize, stride: stride, padding: padding)
    precondition(g.outputHeight == h && g.outputWidth == w, "ConvTranspose2d geometry mismatch")
    geometry = g
    batch = n
    let plane = h * w
    let cols = n * plane
    let rows = g.columnRows

    let xc = Tensor.reuse(inputChannelsMajor, shape: [inChannels, cols])
    inputChannelsMajor = xc
    permuteNCHWToCNHW(input.pointer, batch: n, channels: inChannels, plane: plane, into: xc.pointer)

    // columns[Cout·k·k, N·H·W] = W[Cin, Cout·k·k]ᵀ · X[Cin, N·H·W]
    let c = Tensor.reuse(columns, shape: [rows, cols])
    columns = c
    sgemm(transA: true, m: rows, n: cols, k: inChannels, a: weight.value.pointer, b: xc.pointer, c: c.pointer)

    let y = Tensor.reuse(output, shape: [n, outChannels, ho, wo])
    output = y
    col2im(c.pointer, batch: n, geometry: g, into: y.pointer)
    if let b = bias {
      LayerKernels.addChannelBias(y.pointer, batch: n, channels: outChannels, plane: ho * wo, bias: b.value.pointer)
    }
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let g = geometry, let xc = inputChannelsMajor else {
      preconditionFailure("ConvTranspose2d.backward before forward")
    }
    let n = batch
    let cols = n * g.outputPlane
    let rows = g.columnRows
    precondition(
      dOutput.shape == [n, outChannels, g.height, g.width],
      "ConvTranspose2d dOutput \(dOutput.shape), expected \([n, outChannels, g.height, g.width])")
    if let b = bias {
      LayerKernels.accumulateChannelSums(
        dOutput.pointer, batch: n, channels: outChannels, plane: g.inputPlane, into: b.grad.pointer)
    }
    // dColumns[Cout·k·k, N·H·W] = im2col(dY)
    let dc = Tensor.reuse(columns, shape: [rows, cols])
    columns = dc
    im2col(dOutput.pointer, batch: n, geometry: g, into: dc.pointer)

    // dW[Cin, Cout·k·k] += X[Cin, N·H·W] · dColumnsᵀ
    sgemm(transB: true, m: inChannels, n: rows, k: cols, a: xc.pointer, b: dc.pointer, beta: 1, c: weight.grad.pointer)
    guard needsInputGradient else { return empty }

    // dX[Cin, N·H·W] = W[Cin, Cout·k·k] · dColumns
    let dxc = Tensor.reuse(dInputChannelsMajor, shape: [inChannels, cols])
    dInputChannelsMajor = dxc
    sgemm(m: inChannels, n: cols, k: rows, a: weight.value.pointer, b: dc.pointer, c: dxc.pointer)
    let dx = Tensor.reuse(dInput, shape: [n, inChannels, g.outputHeight, g.outputWidth])
    dInput = dx
    permuteCNHWToNCHW(dxc.pointer, batch: n, channels: inChannels, plane: g.outputPlane, into: dx.pointer)
    return dx
  }
}
