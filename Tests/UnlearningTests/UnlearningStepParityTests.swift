import Distributed
import Foundation
import IO
import Models
import NN
import Tensor
import TestSupport
import Testing

@testable import Unlearning

/// One unlearning step against PyTorch (Tests/Fixtures/unlearn_step.h5, tools/make_fixtures.py): routing,
/// per-sample L1 and MS-SSIM, the loss, every parameter gradient of g, and the weights after one Adam step.
@Suite struct UnlearningStepParityTests {
  static let path = fixtures.appendingPathComponent("unlearn_step.h5").path

  /// f from the fixture's /generator.
  static func original() throws -> LoadedModel {
    let f = try HDF5File.open(path)
    let arch = try Architecture.parse(try f.stringAttribute("architecture"))
    let m = ModelIO.build(arch, seed: 0, withDiscriminator: false, path: path)
    var dict: [String: Tensor] = [:]
    for key in try f.members(of: "/generator") { dict[key] = try f.readFloats("/generator/\(key)") }
    try ModelIO.assign(dict, to: m.generator!, group: "generator", path: path)
    return m
  }

  @Test(arguments: ["step_identical", "step_perturbed"])
  func matchesPyTorch(_ case_: String) throws {
    let f = try HDF5File.open(Self.path)
    let g = "/\(case_)"
    let z = try f.readFloats("\(g)/z"), u = try f.readFloats("\(g)/direction")
    let t = try f.readFloats("\(g)/threshold")[0]
    let source = try Self.original()
    var config = TrainConfig()
    config.globalBatch = z.shape[0]
    config.alpha = try f.doubleAttribute("alpha", of: g)
    config.learningRate = try f.doubleAttribute("lr", of: g)
    config.beta1 = try f.doubleAttribute("beta1", of: g)
    config.beta2 = try f.doubleAttribute("beta2", of: g)
    config.model = Self.path
    let direction = FeatureDirection(
      direction: u.array, threshold: Double(t), nPositive: 1, nNegative: 1, latentSpace: "z", labeler: "fixture",
      sourceModel: Self.path, thresholdSource: "user")
    let trainer = try UnlearningTrainer(
      config: config, source: source, direction: direction, communicator: LocalCommunicator())
    if f.exists("\(g)/start") {
      let params = Dictionary(uniqueKeysWithValues: trainer.model.namedParameters().map { ($0.0, $0.1) })
      for key in try f.members(of: "\(g)/start") where params[key] != nil {
        params[key]!.value.copy(from: try f.readFloats("\(g)/start/\(key)"))
      }
    }
    trainer.latents.copy(from: z)
    trainer.drawsLatents = false
    let m = try trainer.runStep()

    let mask = try f.readUInt8("\(g)/mask")
    #expect(trainer.routed == mask.map { $0 == 1 }, "routing")
    // PyTorch projects in float32, we in Double: ẑ agrees to ~1e-5 absolute.
    assertClose(trainer.routedLatents, try f.readFloats("\(g)/z_hat"), rtol: 1e-4, atol: 1e-7, "z_hat")
    #expect(abs(m.loss - Double(try f.readFloats("\(g)/loss")[0])) <= 1e-5 * max(1, abs(m.loss)), "loss \(m.loss)")
    let l1 = try f.readFloats("\(g)/l1"), ms = try f.readFloats("\(g)/ms_ssim")
    let fraction = Double(mask.reduce(0) { $0 + Int($1) }) / Double(mask.count)
    #expect(abs(m.fractionPositive - fraction) < 1e-12)
    var recon = 0.0, unlearn = 0.0, percep = 0.0
    for i in 0..<mask.count {
      if mask[i] == 1 { unlearn += Double(l1[i]); percep += 1 - Double(ms[i]) } else { recon += Double(l1[i]) }
    }
    let b = Double(mask.count)
    #expect(
      abs(m.lossRecon - recon / b) <= 1e-6 && abs(m.lossUnlearn - unlearn / b) <= 1e-6
        && abs(m.lossPercep - percep / b) <= 1e-5,
      "terms \(m.lossRecon) \(m.lossUnlearn) \(m.lossPercep) vs \(recon / b) \(unlearn / b) \(percep / b)")

    for (key, p) in trainer.model.namedParameters() {
      assertClose(p.grad, try f.readFloats("\(g)/grads/\(key)"), rtol: 1e-3, atol: 1e-7, "\(case_) grad \(key)")
      // Adam's first step moves each weight by lr·g/(|g| + ε): for |g| near ε a tiny relative gradient
      // difference changes the step a lot, so those weights are only held to one step size (lr); all others
      // to float rounding.
      let after = try f.readFloats("\(g)/after_adam/\(key)"), reference = try f.readFloats("\(g)/grads/\(key)")
      var worst: (Int, Float) = (0, 0)
      for i in 0..<after.count {
        let tolerance: Float = abs(reference[i]) > 1e-6 ? 1e-6 + 1e-5 * abs(after[i]) : Float(config.learningRate)
        let excess = abs(p.value[i] - after[i]) / tolerance
        if excess > worst.1 { worst = (i, excess) }
      }
      #expect(
        worst.1 <= 1,
        "\(case_) after Adam \(key): element \(worst.0): \(p.value[worst.0]) vs \(after[worst.0]) (grad \(reference[worst.0]))"
      )
    }
  }
}
