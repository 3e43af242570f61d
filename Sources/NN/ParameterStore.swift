import Tensor

/// Parameters, gradients (and, for the optimiser, its moments) laid out in single flat buffers, llm.c
/// style: one allreduce, one optimiser loop, one checkpoint write.
///
/// Creating a store copies each parameter's current value into the flat buffer and re-homes the
/// `Parameter`'s `value` and `grad` as views into it, in the given order.
public final class ParameterStore {
  /// Names in layout order, with offset and shape.
  public let entries: [(name: String, offset: Int, shape: [Int])]
  public let parameters: [Parameter]
  /// All parameter values, concatenated.
  public let values: Tensor
  /// All gradients, concatenated in the same layout.
  public let gradients: Tensor

  public init(_ named: [(String, Parameter)]) {
    var entries: [(String, Int, [Int])] = []
    var offset = 0
    for (name, p) in named {
      entries.append((name, offset, p.value.shape))
      offset += p.value.count
    }
    self.entries = entries
    self.parameters = named.map { $0.1 }
    values = Tensor(shape: [offset])
    gradients = Tensor(shape: [offset])
    for (i, p) in parameters.enumerated() {
      let (_, off, shape) = entries[i]
      (values.pointer + off).update(from: p.value.pointer, count: p.value.count)
      p.value = Tensor(viewing: values.pointer + off, shape: shape, owner: values)
      p.grad = Tensor(viewing: gradients.pointer + off, shape: shape, owner: gradients)
    }
  }

  /// Total number of scalars.
  public var count: Int { values.count }

  /// Sets all gradients to zero (one memset).
  public func zeroGradients() { gradients.fill(0) }
}
