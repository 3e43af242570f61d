/// Elementwise kernels over raw buffers. Loops run over unsafe pointers so release builds vectorise them.
public enum Elementwise {
  /// y += alpha · x
  @inlinable public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += alpha * x[i] }
  }
  /// y = x · alpha
  @inlinable public static func scale(_ x: UnsafePointer<Float>, _ alpha: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = x[i] * alpha }
  }
  /// Sum of the elements, accumulated in Double so results do not depend on length-dependent rounding.
  @inlinable public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { s += Double(x[i]) }
    return s
  }
  /// True if every element is finite.
  @inlinable public static func allFinite(_ x: UnsafePointer<Float>, _ n: Int) -> Bool {
    var ok = true
    for i in 0..<n where !x[i].isFinite { ok = false }
    return ok
  }
}
