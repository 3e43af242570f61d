import Tensor

/// A trainable tensor and the gradient accumulated for it.
///
/// `value` and `grad` may be re-homed into a flat buffer by ``ParameterStore``; layers must always reach
/// them through the `Parameter` (never cache their pointers across steps).
public final class Parameter {
  public var value: Tensor
  public var grad: Tensor
  public init(_ value: Tensor) {
    self.value = value
    self.grad = Tensor(shape: value.shape)
  }
  public convenience init(shape: [Int]) { self.init(Tensor(shape: shape)) }
}

/// How normalisation layers behave.
public enum LayerMode {
  /// Batch statistics, running statistics updated (PyTorch `train()`).
  case training
  /// Running statistics, nothing updated (PyTorch `eval()`). Parameters still receive gradients.
  case inference
}

/// A network layer with an explicit forward and hand-written backward pass.
///
/// `forward` caches what `backward` needs; `backward(dOutput)` returns dInput and *accumulates* (+=)
/// parameter gradients into each `Parameter.grad`, like PyTorch. Output tensors are owned by the layer and
/// reused by the next call, so callers must copy an output they want to keep past the next `forward`.
public protocol Layer: AnyObject {
  func forward(_ input: Tensor) -> Tensor
  func backward(_ dOutput: Tensor) -> Tensor
  /// Parameters of this layer itself, by PyTorch local name ("weight", "bias").
  var localParameters: [(String, Parameter)] { get }
  /// Non-trainable state of this layer itself, by PyTorch local name ("running_mean", ...).
  var localBuffers: [(String, Tensor)] { get }
  /// Sub-layers by PyTorch module name ("0", "1", ... for `Sequential`).
  var children: [(String, Layer)] { get }
  /// Switches normalisation behaviour (recursively for containers).
  func setMode(_ mode: LayerMode)
}

extension Layer {
  public var localParameters: [(String, Parameter)] { [] }
  public var localBuffers: [(String, Tensor)] { [] }
  public var children: [(String, Layer)] { [] }
  public func setMode(_ mode: LayerMode) { for (_, c) in children { c.setMode(mode) } }

  /// All parameters with dotted PyTorch `state_dict` names, in module order.
  public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
    var out = localParameters.map { (prefix + $0.0, $0.1) }
    for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
    return out
  }

  /// All buffers with dotted PyTorch `state_dict` names, in module order.
  public func namedBuffers(prefix: String = "") -> [(String, Tensor)] {
    var out = localBuffers.map { (prefix + $0.0, $0.1) }
    for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
    return out
  }

  /// Every tensor of the PyTorch `state_dict`: parameters then buffers, by name.
  public func stateDict(prefix: String = "") -> [String: Tensor] {
    var d: [String: Tensor] = [:]
    for (k, p) in namedParameters(prefix: prefix) { d[k] = p.value }
    for (k, b) in namedBuffers(prefix: prefix) { d[k] = b }
    return d
  }

  /// Sets every parameter gradient to zero.
  public func zeroGradients() { for (_, p) in namedParameters() { p.grad.fill(0) } }
}
