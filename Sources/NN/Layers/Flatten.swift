import Tensor

/// `[N, d1, d2, …]` → `[N, d1·d2·…]`, PyTorch `nn.Flatten()`. The output is a view of the input (no copy),
/// and the input gradient a view of the output gradient.
public final class Flatten: Layer {
  private var inputShape: [Int] = []
  private var output: Tensor?
  private var dInput: Tensor?
  public init() {}

  public func forward(_ input: Tensor) -> Tensor {
    precondition(input.shape.count >= 1, "Flatten of a scalar")
    inputShape = input.shape
    let n = input.shape[0]
    let y = reshapedView(of: input, shape: [n, n == 0 ? 0 : input.count / n], cached: output)
    output = y
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    let dx = reshapedView(of: dOutput, shape: inputShape, cached: dInput)
    dInput = dx
    return dx
  }
}

/// `[N, F]` → `[N] + shape` with `F = shape.reduce(1, *)`, PyTorch `nn.Unflatten(1, shape)`. The output is
/// a view of the input (no copy), and the input gradient a view of the output gradient.
public final class Unflatten: Layer {
  public let shape: [Int]
  private var inputShape: [Int] = []
  private var output: Tensor?
  private var dInput: Tensor?
  public init(shape: [Int]) {
    precondition(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "Unflatten(shape: \(shape))")
    self.shape = shape
  }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(
      input.shape.count == 2 && input.shape[1] == shape.reduce(1, *), "Unflatten to \(shape) got \(input.shape)")
    inputShape = input.shape
    let y = reshapedView(of: input, shape: [input.shape[0]] + shape, cached: output)
    output = y
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    let dx = reshapedView(of: dOutput, shape: inputShape, cached: dInput)
    dInput = dx
    return dx
  }
}
