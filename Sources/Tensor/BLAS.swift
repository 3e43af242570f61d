internal import CBLAS

/// Row-major single-precision matrix multiply over OpenBLAS:
/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`.
///
/// - Parameters:
///   - transA, transB: use the transpose of the stored matrix.
///   - lda, ldb, ldc: row strides of the *stored* matrices (defaults: tightly packed).
@inlinable
public func sgemm(
  transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
  b: UnsafePointer<Float>, ldb: Int? = nil,
  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
  blasGemm(
    transA, transB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? (transA ? m : k)),
    b, Int32(ldb ?? (transB ? k : n)), beta, c, Int32(ldc ?? n))
}

@usableFromInline
func blasGemm(
  _ transA: Bool, _ transB: Bool, _ m: Int32, _ n: Int32, _ k: Int32, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>, _ ldb: Int32, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int32
) {
  if m == 0 || n == 0 { return }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

/// OpenBLAS thread count for this process (set it so ranks × threads ≤ cores).
public enum BLASThreads {
  public static var count: Int {
    get { Int(openblas_get_num_threads()) }
    set { openblas_set_num_threads(Int32(newValue)) }
  }
}
