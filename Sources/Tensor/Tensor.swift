import Foundation

/// A dense, row-major float32 tensor that owns (or views) a raw buffer.
///
/// Shapes are NCHW for images, `[N, features]` for vectors. The class has reference semantics on purpose:
/// layers keep their activations and workspaces in `Tensor`s and reuse them across steps, so nothing is
/// copied by accident and the step loop does not allocate. A tensor can also be a *view* into memory that
/// another object owns (for example a parameter inside a flat parameter buffer); the view keeps its owner
/// alive.
public final class Tensor {
  /// The extent of each dimension.
  public private(set) var shape: [Int]
  /// Number of elements (product of `shape`).
  public private(set) var count: Int
  /// Start of the elements.
  public let pointer: UnsafeMutablePointer<Float>
  /// Elements allocated behind `pointer`; `reshape` may use any count up to this.
  public let capacity: Int
  private let owner: AnyObject?

  /// A zero-filled tensor of the given shape.
  public init(shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    let n = shape.reduce(1, *)
    self.shape = shape
    self.count = n
    self.capacity = n
    self.pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
    self.pointer.initialize(repeating: 0, count: max(n, 1))
    self.owner = nil
  }

  /// A tensor holding a copy of `values`, which must have `shape.reduce(1, *)` elements.
  public convenience init(shape: [Int], values: [Float]) {
    self.init(shape: shape)
    precondition(values.count == count, "\(values.count) values for shape \(shape)")
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
  }

  /// A view of `count` elements at `pointer`, owned by `owner` (kept alive by the view).
  public init(viewing pointer: UnsafeMutablePointer<Float>, shape: [Int], owner: AnyObject) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.capacity = count
    self.pointer = pointer
    self.owner = owner
  }

  deinit {
    if owner == nil { pointer.deallocate() }
  }

  /// The elements as a mutable buffer (valid while the tensor lives).
  @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }

  /// A copy of the elements.
  public var array: [Float] { Array(buffer) }

  /// Changes the shape in place; the new element count must fit in `capacity`.
  public func reshape(_ newShape: [Int]) {
    let n = newShape.reduce(1, *)
    precondition(n <= capacity, "reshape to \(newShape) exceeds capacity \(capacity)")
    shape = newShape
    count = n
  }

  /// Sets every element to `value`.
  public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

  /// Copies the elements of `other`, which must have the same count; adopts its shape.
  public func copy(from other: Tensor) {
    precondition(other.count <= capacity, "copy of \(other.shape) into capacity \(capacity)")
    reshape(other.shape)
    pointer.update(from: other.pointer, count: count)
  }

  /// A new tensor with the same shape and elements.
  public func clone() -> Tensor {
    let t = Tensor(shape: shape)
    t.pointer.update(from: pointer, count: count)
    return t
  }

  /// For a [n, k] tensor, the index of each row's largest element: the predicted class of a batch of logits
  /// or probabilities. An element replaces the running best only when strictly greater, so ties keep the
  /// first, a later NaN never wins, and a leading NaN keeps index 0.
  public func rowArgmax() -> [Int] {
    precondition(shape.count == 2, "rowArgmax of a \(shape) tensor; expected [n, k]")
    let (n, k) = (shape[0], shape[1])
    return (0..<n).map { i in
      let row = pointer + i * k
      var best = 0
      for j in 1..<k where row[j] > row[best] { best = j }
      return best
    }
  }

  /// Element access by flat index.
  @inlinable public subscript(i: Int) -> Float {
    get { pointer[i] }
    set { pointer[i] = newValue }
  }

  /// Size of dimension `d`.
  @inlinable public func dim(_ d: Int) -> Int { shape[d] }

  /// Returns `tensor` if it exists and can hold `shape` (reshaping it), else a new zeroed tensor.
  /// Layers use this to reuse their workspaces across steps without allocating.
  public static func reuse(_ tensor: Tensor?, shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    if let t = tensor, t.capacity >= n {
      t.reshape(shape)
      return t
    }
    return Tensor(shape: shape)
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let head = buffer.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor\(shape)[\(head)\(count > 6 ? ", …" : "")]"
  }
}
