import Tensor

/// Fully connected layer, PyTorch `nn.Linear`: `y = x · Wᵀ + b`.
///
/// Shapes: input `[N, in]`, output `[N, out]`, `weight` `[out, in]`, `bias` `[out]`. Weights start at zero
/// (models initialise them). Backward reads the input seen by `forward`, which must stay unchanged until
/// then.
public final class Linear: Layer {
  public let inFeatures: Int
  public let outFeatures: Int
  /// `[out, in]`
  public let weight: Parameter
  /// `[out]`, or nil when built with `bias: false`.
  public let bias: Parameter?
  /// When false, `backward` only accumulates parameter gradients and returns an empty tensor (shape [0]).
  public var needsInputGradient = true

  private var input: Tensor?
  private var output: Tensor?
  private var dInput: Tensor?
  private let empty = Tensor(shape: [0])

  public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
    precondition(inFeatures > 0 && outFeatures > 0, "Linear(\(inFeatures), \(outFeatures))")
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
    weight = Parameter(shape: [outFeatures, inFeatures])
    self.bias = bias ? Parameter(shape: [outFeatures]) : nil
  }

  public var localParameters: [(String, Parameter)] {
    var out = [("weight", weight)]
    if let b = bias { out.append(("bias", b)) }
    return out
  }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(
      input.shape.count == 2 && input.shape[1] == inFeatures, "Linear(\(inFeatures)→\(outFeatures)) got \(input.shape)")
    let n = input.shape[0]
    self.input = input
    let y = Tensor.reuse(output, shape: [n, outFeatures])
    output = y
    if let b = bias { LayerKernels.fillColumns(y.pointer, rows: n, columns: outFeatures, with: b.value.pointer) }
    // y[N, out] = x[N, in] · W[out, in]ᵀ (+ y holding the bias)
    sgemm(
      transB: true, m: n, n: outFeatures, k: inFeatures, a: input.pointer, b: weight.value.pointer,
      beta: bias == nil ? 0 : 1, c: y.pointer)
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let x = input else { preconditionFailure("Linear.backward before forward") }
    let n = x.shape[0]
    precondition(dOutput.shape == [n, outFeatures], "Linear dOutput \(dOutput.shape), expected \([n, outFeatures])")
    // dW[out, in] += dYᵀ[out, N] · x[N, in]
    sgemm(
      transA: true, m: outFeatures, n: inFeatures, k: n, a: dOutput.pointer, b: x.pointer, beta: 1,
      c: weight.grad.pointer)
    if let b = bias {
      let g = b.grad.pointer
      let dy = dOutput.pointer
      for j in 0..<outFeatures {
        var s = 0.0
        for i in 0..<n { s += Double(dy[i * outFeatures + j]) }
        g[j] += Float(s)
      }
    }
    guard needsInputGradient else { return empty }
    // dX[N, in] = dY[N, out] · W[out, in]
    let dx = Tensor.reuse(dInput, shape: [n, inFeatures])
    dInput = dx
    sgemm(m: n, n: inFeatures, k: outFeatures, a: dOutput.pointer, b: weight.value.pointer, c: dx.pointer)
    return dx
  }
}
