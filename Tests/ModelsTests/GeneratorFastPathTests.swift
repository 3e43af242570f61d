import Models
import NN
import Tensor
import TestSupport
import Testing

/// The batch-last fast path (``GeneratorEngine``) and the layer-by-layer path compute the same generator:
/// each is checked against PyTorch elsewhere, this checks them against each other directly, on the shipped
/// architectures and on odd batch sizes that exercise the engine's partial blocks.
@Suite struct GeneratorFastPathTests {
  /// A generator with DCGAN initialisation and non-trivial BatchNorm statistics, in inference mode.
  func generator(_ a: Architecture) -> DCGANGenerator {
    let g = DCGANGenerator(a)
    Initialization.dcgan(g, seed: 5)
    var rng = PhiloxGenerator(seed: 9)
    for (name, t) in g.namedBuffers() {
      if name.hasSuffix("running_mean") { for i in 0..<t.count { t[i] = 0.1 * rng.nextNormal() } }
      if name.hasSuffix("running_var") { for i in 0..<t.count { t[i] = 0.5 + abs(rng.nextNormal()) } }
    }
    for (name, p) in g.namedParameters() where name.contains(".1.") || name.contains(".4.") {
      for i in 0..<p.value.count { p.value[i] += 0.1 * rng.nextNormal() }  // BatchNorm affine ≠ identity
    }
    g.setMode(.inference)
    g.needsInputGradient = true
    return g
  }

  func random(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = PhiloxGenerator(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = rng.nextNormal() }
    return t
  }

  /// Forward output, dz and every parameter gradient of one path.
  func run(_ g: DCGANGenerator, fast: Bool, z: Tensor, dOut: Tensor) -> (Tensor, Tensor, [String: Tensor]) {
    g.usesFastPath = fast
    g.zeroGradients()
    let y = g.forward(z).clone()
    let dz = g.backward(dOut).clone()
    return (y, dz, Dictionary(uniqueKeysWithValues: g.namedParameters().map { ($0.0, $0.1.grad.clone()) }))
  }

  @Test(arguments: [("dcgan28", 5), ("dcgan28", 64), ("dcgan64", 3)])
  func fastPathEqualsLayerPath(preset: String, batch: Int) throws {
    let a = try #require(Architecture.presets[preset])
    let g = generator(a)
    let z = random([batch, a.latentDim!], seed: 1)
    let dOut = random([batch, a.channels, a.outputSize, a.outputSize], seed: 2)
    let (yFast, dzFast, gradFast) = run(g, fast: true, z: z, dOut: dOut)
    #expect(g.fastPathWorkspaceBytes > 0, "the fast path ran")
    let (ySlow, dzSlow, gradSlow) = run(g, fast: false, z: z, dOut: dOut)
    assertClose(yFast, ySlow, rtol: 1e-5, "\(preset) output")
    assertClose(dzFast, dzSlow, rtol: 1e-4, "\(preset) dz")
    #expect(gradFast.keys.sorted() == gradSlow.keys.sorted())
    for (name, slow) in gradSlow { assertClose(gradFast[name]!, slow, rtol: 1e-4, "\(preset) \(name) gradient") }
  }
}
