import Testing
@testable import Tensor

/// Naive triple loop, the reference for the BLAS wrapper.
func naiveGemm(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
  var c = [Float](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      var s: Float = 0
      for p in 0..<k {
        let av = transA ? a[p * m + i] : a[i * k + p]
        let bv = transB ? b[j * k + p] : b[p * n + j]
        s += av * bv
      }
      c[i * n + j] = s
    }
  }
  return c
}

@Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
func sgemmMatchesNaive(transA: Bool, transB: Bool) {
  let (m, n, k) = (5, 7, 3)
  let a = (0..<(m * k)).map { Float($0 % 7) - 3 }
  let b = (0..<(k * n)).map { Float($0 % 5) * 0.5 - 1 }
  var c = [Float](repeating: 1, count: m * n)
  a.withUnsafeBufferPointer { ap in
    b.withUnsafeBufferPointer { bp in
      c.withUnsafeMutableBufferPointer { cp in
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!,
              beta: 0, c: cp.baseAddress!)
      }
    }
  }
  let ref = naiveGemm(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
  for i in 0..<(m * n) { #expect(abs(c[i] - ref[i]) <= 1e-5, "element \(i): \(c[i]) vs \(ref[i])") }
}

@Test func tensorReuseKeepsStorageWhenItFits() {
  let t = Tensor(shape: [4, 4])
  let r = Tensor.reuse(t, shape: [2, 3])
  #expect(r === t)
  #expect(r.shape == [2, 3] && r.count == 6)
  let bigger = Tensor.reuse(t, shape: [5, 5])
  #expect(bigger !== t && bigger.count == 25)
}
