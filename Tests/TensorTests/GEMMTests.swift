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
        sgemm(
          transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!,
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

@Test func philoxMatchesPublishedKnownAnswer() {
  // Random123 known-answer test for philox4x32-10: counter = key = 0.
  let p = Philox(seed: 0)
  let r = p.block(0, 0, 0, 0)
  #expect(r.0 == 0x6627_e8d5 && r.1 == 0xe169_c58d && r.2 == 0xbc57_ac4c && r.3 == 0x9b00_dbd8)
}

@Test func philoxNormalsArePureFunctionsOfTheCounter() {
  let p = Philox(seed: 42)
  var a = [Float](repeating: 0, count: 100), b = [Float](repeating: 0, count: 100)
  a.withUnsafeMutableBufferPointer { p.normals(stream: 3, index: 7, count: 100, into: $0.baseAddress!) }
  b.withUnsafeMutableBufferPointer { p.normals(stream: 3, index: 7, count: 100, into: $0.baseAddress!) }
  #expect(a == b)
  var c = [Float](repeating: 0, count: 100)
  c.withUnsafeMutableBufferPointer { p.normals(stream: 3, index: 8, count: 100, into: $0.baseAddress!) }
  #expect(a != c)
  // Moments of many draws: mean ≈ 0, variance ≈ 1.
  var all = [Float](repeating: 0, count: 100 * 200)
  all.withUnsafeMutableBufferPointer { buf in
    for j in 0..<200 { p.normals(stream: 0, index: UInt64(j), count: 100, into: buf.baseAddress! + 100 * j) }
  }
  let mean = all.reduce(0, +) / Float(all.count)
  let variance = all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(all.count)
  #expect(abs(mean) < 0.03)
  #expect(abs(variance - 1) < 0.04)
}
