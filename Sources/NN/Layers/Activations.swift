import Foundation
import Tensor

/// `max(x, 0)`, PyTorch `nn.ReLU` (NaN passes through). Any shape; backward uses the layer's own output.
public final class ReLU: Layer {
  private var output: Tensor?
  private var dInput: Tensor?
  public init() {}

  public func forward(_ input: Tensor) -> Tensor {
    let y = Tensor.reuse(output, shape: input.shape)
    output = y
    let x = input.pointer
    let o = y.pointer
    for i in 0..<input.count { o[i] = x[i] < 0 ? 0 : x[i] }
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("ReLU.backward before forward") }
    precondition(dOutput.shape == y.shape, "ReLU dOutput \(dOutput.shape), expected \(y.shape)")
    let dx = Tensor.reuse(dInput, shape: y.shape)
    dInput = dx
    let o = y.pointer
    let g = dOutput.pointer
    let d = dx.pointer
    for i in 0..<y.count {
      let gi = g[i]  // unconditional load, so the loop vectorises
      d[i] = o[i] > 0 ? gi : 0
    }
    return dx
  }
}

/// `x` for `x > 0`, else `negativeSlope · x`; PyTorch `nn.LeakyReLU` (default slope 0.01; DCGAN uses 0.2).
/// Any shape; backward reads the input seen by `forward`, which must stay unchanged until then.
public final class LeakyReLU: Layer {
  public let negativeSlope: Float
  private var input: Tensor?
  private var output: Tensor?
  private var dInput: Tensor?
  public init(negativeSlope: Float = 0.01) { self.negativeSlope = negativeSlope }

  public func forward(_ input: Tensor) -> Tensor {
    self.input = input
    let y = Tensor.reuse(output, shape: input.shape)
    output = y
    let x = input.pointer
    let o = y.pointer
    let a = negativeSlope
    for i in 0..<input.count { o[i] = x[i] > 0 ? x[i] : x[i] * a }
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let input else { preconditionFailure("LeakyReLU.backward before forward") }
    precondition(dOutput.shape == input.shape, "LeakyReLU dOutput \(dOutput.shape), expected \(input.shape)")
    let dx = Tensor.reuse(dInput, shape: input.shape)
    dInput = dx
    let x = input.pointer
    let g = dOutput.pointer
    let d = dx.pointer
    let a = negativeSlope
    for i in 0..<input.count { d[i] = x[i] > 0 ? g[i] : g[i] * a }
    return dx
  }
}

/// Hyperbolic tangent, PyTorch `nn.Tanh` (computed by ``fastTanh(_:_:_:)``). Any shape; backward uses the output: `dx = dy · (1 − y²)`.
public final class Tanh: Layer {
  private var output: Tensor?
  private var dInput: Tensor?
  public init() {}

  public func forward(_ input: Tensor) -> Tensor {
    let y = Tensor.reuse(output, shape: input.shape)
    output = y
    fastTanh(input.pointer, y.pointer, input.count)  // vectorised; within 1.2 ulp (glibc tanhf: 2.1)
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("Tanh.backward before forward") }
    precondition(dOutput.shape == y.shape, "Tanh dOutput \(dOutput.shape), expected \(y.shape)")
    let dx = Tensor.reuse(dInput, shape: y.shape)
    dInput = dx
    let o = y.pointer
    let g = dOutput.pointer
    let d = dx.pointer
    for i in 0..<y.count { d[i] = g[i] * (1 - o[i] * o[i]) }
    return dx
  }
}

/// Logistic function `1 / (1 + e^{−x})`, PyTorch `nn.Sigmoid`. Any shape; backward uses the output:
/// `dx = dy · y · (1 − y)`.
public final class Sigmoid: Layer {
  private var output: Tensor?
  private var dInput: Tensor?
  public init() {}

  public func forward(_ input: Tensor) -> Tensor {
    let y = Tensor.reuse(output, shape: input.shape)
    output = y
    let x = input.pointer
    let o = y.pointer
    for i in 0..<input.count { o[i] = 1 / (1 + expf(-x[i])) }
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let y = output else { preconditionFailure("Sigmoid.backward before forward") }
    precondition(dOutput.shape == y.shape, "Sigmoid dOutput \(dOutput.shape), expected \(y.shape)")
    let dx = Tensor.reuse(dInput, shape: y.shape)
    dInput = dx
    let o = y.pointer
    let g = dOutput.pointer
    let d = dx.pointer
    for i in 0..<y.count { d[i] = g[i] * o[i] * (1 - o[i]) }
    return dx
  }
}
