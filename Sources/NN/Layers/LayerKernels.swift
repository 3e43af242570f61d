import Tensor

/// Small kernels shared by the layers (internal).
enum LayerKernels {
  /// Sets row `r` of the row-major `[rows, columns]` matrix `matrix` to `values[r]` everywhere.
  @inlinable
  static func fillRows(
    _ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, with values: UnsafePointer<Float>
  ) {
    for r in 0..<rows { (matrix + r * columns).update(repeating: values[r], count: columns) }
  }

  /// Sets column `j` of the row-major `[rows, columns]` matrix to `values[j]` in every row.
  @inlinable
  static func fillColumns(
    _ matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int, with values: UnsafePointer<Float>
  ) {
    for r in 0..<rows { (matrix + r * columns).update(from: values, count: columns) }
  }

  /// `sums[c] += Σ_{n, i} x[n, c, i]` for `x` laid out `[N, C, plane]`, accumulated in Double.
  @inlinable
  static func accumulateChannelSums(
    _ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, into sums: UnsafeMutablePointer<Float>
  ) {
    for c in 0..<channels {
      var s = 0.0
      for n in 0..<batch { s += Elementwise.sum(x + (n * channels + c) * plane, plane) }
      sums[c] += Float(s)
    }
  }

  /// `x[n, c, i] += bias[c]` for `x` laid out `[N, C, plane]`.
  @inlinable
  static func addChannelBias(
    _ x: UnsafeMutablePointer<Float>, batch: Int, channels: Int, plane: Int, bias: UnsafePointer<Float>
  ) {
    for n in 0..<batch {
      for c in 0..<channels {
        let p = x + (n * channels + c) * plane
        let b = bias[c]
        for i in 0..<plane { p[i] += b }
      }
    }
  }
}

/// A view of `source`'s elements with another shape, reusing `cached` when it already views the same
/// memory (so reshaping layers do not allocate per call).
func reshapedView(of source: Tensor, shape: [Int], cached: Tensor?) -> Tensor {
  let n = shape.reduce(1, *)
  precondition(n == source.count, "cannot view \(source.shape) as \(shape)")
  if let v = cached, v.pointer == source.pointer, v.capacity >= n {
    v.reshape(shape)
    return v
  }
  return Tensor(viewing: source.pointer, shape: shape, owner: source)
}
