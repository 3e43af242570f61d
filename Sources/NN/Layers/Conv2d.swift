import Tensor

/// 2-D convolution, PyTorch `nn.Conv2d` (square kernel, symmetric zero padding, no dilation or groups).
///
/// Shapes: input `[N, Cin, H, W]`, output `[N, Cout, Ho, Wo]` with `Ho = (H + 2·padding − k) / stride + 1`,
/// `weight` `[Cout, Cin, k, k]`, `bias` `[Cout]`. Weights start at zero (models initialise them).
///
/// Forward is one im2col of the whole batch into `[Cin·k·k, N·Ho·Wo]` and one sgemm
/// `W[Cout, Cin·k·k] · columns`; the columns are kept for the weight gradient, so call `backward` once
/// per `forward`.
public final class Conv2d: Layer {
  public let inChannels: Int
  public let outChannels: Int
  public let kernelSize: Int
  public let stride: Int
  public let padding: Int
  /// `[Cout, Cin, k, k]`
  public let weight: Parameter
  /// `[Cout]`, or nil when built with `bias: false`.
  public let bias: Parameter?
  /// When false, `backward` only accumulates parameter gradients and returns an empty tensor (shape [0]).
  public var needsInputGradient = true

  private var geometry: ConvolutionGeometry?
  private var batch = 0
  /// `[Cin·k·k, N·Ho·Wo]`: im2col of the input after `forward`, reused for the column gradient in backward.
  private var columns: Tensor?
  private var columnsHoldInput = false
  /// `[Cout, N·Ho·Wo]`: channels-major output (forward) or output gradient (backward).
  private var channelsMajor: Tensor?
  private var output: Tensor?
  private var dInput: Tensor?
  private let empty = Tensor(shape: [0])

  public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true)
  {
    precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0, "bad Conv2d")
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernelSize = kernelSize
    self.stride = stride
    self.padding = padding
    weight = Parameter(shape: [outChannels, inChannels, kernelSize, kernelSize])
    self.bias = bias ? Parameter(shape: [outChannels]) : nil
  }

  public var localParameters: [(String, Parameter)] {
    var out = [("weight", weight)]
    if let b = bias { out.append(("bias", b)) }
    return out
  }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(
      input.shape.count == 4 && input.shape[1] == inChannels, "Conv2d(\(inChannels)→\(outChannels)) got \(input.shape)")
    let n = input.shape[0]
    let g = ConvolutionGeometry(
      channels: inChannels, height: input.shape[2], width: input.shape[3], kernelSize: kernelSize, stride: stride,
      padding: padding)
    geometry = g
    batch = n
    let rows = g.columnRows
    let cols = n * g.outputPlane
    let x = Tensor.reuse(columns, shape: [rows, cols])
    columns = x
    im2col(input.pointer, batch: n, geometry: g, into: x.pointer)
    columnsHoldInput = true

    let yc = Tensor.reuse(channelsMajor, shape: [outChannels, cols])
    channelsMajor = yc
    if let b = bias { LayerKernels.fillRows(yc.pointer, rows: outChannels, columns: cols, with: b.value.pointer) }
    // Y[Cout, N·Ho·Wo] = W[Cout, Cin·k·k] · columns (+ Y holding the bias)
    sgemm(
      m: outChannels, n: cols, k: rows, a: weight.value.pointer, b: x.pointer, beta: bias == nil ? 0 : 1, c: yc.pointer)

    let y = Tensor.reuse(output, shape: [n, outChannels, g.outputHeight, g.outputWidth])
    output = y
    permuteCNHWToNCHW(yc.pointer, batch: n, channels: outChannels, plane: g.outputPlane, into: y.pointer)
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let g = geometry, let x = columns, columnsHoldInput else {
      preconditionFailure("Conv2d.backward needs a preceding forward (one backward per forward)")
    }
    let n = batch
    let rows = g.columnRows
    let cols = n * g.outputPlane
    precondition(
      dOutput.shape == [n, outChannels, g.outputHeight, g.outputWidth],
      "Conv2d dOutput \(dOutput.shape), expected \([n, outChannels, g.outputHeight, g.outputWidth])")
    let dyc = Tensor.reuse(channelsMajor, shape: [outChannels, cols])
    channelsMajor = dyc
    permuteNCHWToCNHW(dOutput.pointer, batch: n, channels: outChannels, plane: g.outputPlane, into: dyc.pointer)

    // dW[Cout, Cin·k·k] += dY[Cout, N·Ho·Wo] · columnsᵀ
    sgemm(transB: true, m: outChannels, n: rows, k: cols, a: dyc.pointer, b: x.pointer, beta: 1, c: weight.grad.pointer)
    if let b = bias {
      LayerKernels.accumulateChannelSums(
        dyc.pointer, batch: 1, channels: outChannels, plane: cols, into: b.grad.pointer)
    }
    guard needsInputGradient else { return empty }

    // dColumns[Cin·k·k, N·Ho·Wo] = Wᵀ · dY, written over the input columns (no longer needed), then folded.
    sgemm(transA: true, m: rows, n: cols, k: outChannels, a: weight.value.pointer, b: dyc.pointer, c: x.pointer)
    columnsHoldInput = false
    let dx = Tensor.reuse(dInput, shape: [n, inChannels, g.height, g.width])
    dInput = dx
    col2im(x.pointer, batch: n, geometry: g, into: dx.pointer)
    return dx
  }
}
