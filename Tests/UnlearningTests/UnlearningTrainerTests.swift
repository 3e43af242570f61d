import Distributed
import Foundation
import IO
import Models
import NN
import Tensor
import Testing

@testable import Unlearning

@Suite struct UnlearningTrainerTests {
  func makeTrainer(_ dir: String, steps: Int = 6, configure: (inout TrainConfig) -> Void = { _ in }) throws
    -> UnlearningTrainer
  {
    let files = try writeTinyRun(in: dir)
    var config = TrainConfig()
    config.model = files.model
    config.direction = files.direction
    config.out = dir
    config.steps = steps
    config.globalBatch = 6
    config.learningRate = 1e-3
    config.checkpointEvery = 0
    config.logEvery = 1
    configure(&config)
    return try UnlearningTrainer(
      config: config, source: try ModelIO.load(files.model), direction: try FeatureDirection.read(files.direction),
      communicator: LocalCommunicator())
  }

  @Test func routedLatentsLandExactlyOnTheThreshold() throws {
    let trainer = try makeTrainer(temporaryFolder())
    var routedCount = 0
    for s in 0..<5 {
      trainer.sample(stepIndex: s)
      trainer.route()
      let d = trainer.original.latentDim
      for i in 0..<trainer.slice.count {
        let z = trainer.latents.pointer + i * d, zh = trainer.routedLatents.pointer + i * d
        let p = trainer.direction.project(z, unit: trainer.unit)
        #expect(trainer.routed[i] == (p >= trainer.threshold))
        if trainer.routed[i] {
          routedCount += 1
          #expect(abs(trainer.direction.project(zh, unit: trainer.unit) - trainer.threshold) < 1e-5)
          // Only the component along u changes.
          var orthogonal = 0.0
          for k in 0..<d {
            orthogonal = max(orthogonal, Double(abs((z[k] - zh[k]) - Float(p - trainer.threshold) * trainer.unit[k])))
          }
          #expect(orthogonal < 1e-6)
        } else {
          for k in 0..<d { #expect(zh[k] == z[k]) }
        }
      }
    }
    #expect(routedCount > 0 && routedCount < 30, "both branches exercised (\(routedCount) of 30 routed)")
  }

  @Test func stepLowersTheLossOnAFixedBatch() throws {
    let trainer = try makeTrainer(temporaryFolder()) { $0.learningRate = 3e-3 }
    // Perturb g so the loss is not 0 at the start, then optimise the same latents repeatedly.
    for (_, p) in trainer.model.namedParameters() {
      for i in 0..<p.value.count { p.value[i] += 0.02 * Float((i * 7919) % 13 - 6) / 6 }
    }
    trainer.sample(stepIndex: 0)
    trainer.drawsLatents = false
    let first = try trainer.runStep().loss
    var last = first
    for _ in 0..<15 { last = try trainer.runStep().loss }
    #expect(last < 0.7 * first, "loss \(first) → \(last)")
  }

  @Test func resumedRunEqualsTheUninterruptedRun() throws {
    let dirA = temporaryFolder("a"), dirB = temporaryFolder("b")
    let a = try makeTrainer(dirA, steps: 6)
    try a.train()
    let b = try makeTrainer(dirB, steps: 3)
    try b.train()  // writes latest.h5 at step 3
    let c = try makeTrainer(dirB, steps: 6)
    let header = try c.restore(from: dirB + "/latest.h5")
    #expect(header.step == 3 && c.step == 3)
    try c.train()
    #expect(c.step == 6)
    #expect(a.store.values.array == c.store.values.array, "weights bitwise equal after resume")
    #expect(
      a.adam.m.array == c.adam.m.array && a.adam.v.array == c.adam.v.array && a.adam.stepCount == c.adam.stepCount)
    #expect(a.history.map { $0.loss } == c.history.map { $0.loss })
    let metricsA = try String(contentsOfFile: dirA + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
      $0.replacingOccurrences(of: #""seconds":[0-9.e-]+"#, with: "", options: .regularExpression)
    }
    let metricsC = try String(contentsOfFile: dirB + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
      $0.replacingOccurrences(of: #""seconds":[0-9.e-]+"#, with: "", options: .regularExpression)
    }
    #expect(metricsA == metricsC && metricsA.count == 6)
  }

  @Test func checkpointIsAModelFileAndCarriesTheRun() throws {
    let dir = temporaryFolder()
    let t = try makeTrainer(dir, steps: 2)
    try t.train()
    let loaded = try ModelIO.load(dir + "/latest.h5")
    #expect(loaded.architecture == tinyArchitecture)
    let g = try loaded.requireGenerator()
    #expect(g.stateDict()["main.0.weight"]!.array == t.model.stateDict()["main.0.weight"]!.array)
    let h = try Checkpoint.header(dir + "/latest.h5")
    #expect(h.step == 2 && h.worldSizeAtSave == 1)
    let config = try ConfigLoader.decode(
      TrainConfig.self, from: Data(h.configJSON.utf8), knownKeys: TrainConfig.keys, source: "checkpoint")
    #expect(config == t.config)
    let file = try HDF5File.open(dir + "/latest.h5")
    #expect(try file.readDoubles("/metrics/step") == [1, 2])
    #expect(try file.readInt64("/optimizer/step") == [2])
  }

  @Test func nonfiniteLossStopsOrSkipsAsConfigured() throws {
    for policy in ["stop", "skip"] {
      let t = try makeTrainer(temporaryFolder(policy)) { $0.onNonfinite = policy }
      let before = t.store.values.array
      t.model.namedParameters()[0].1.value[0] = .nan  // poisons the output, so the loss
      if policy == "stop" {
        #expect(throws: TrainingError.self) { try t.runStep() }
      } else {
        let m = try t.runStep()
        #expect(m.skipped)
        #expect(t.adam.stepCount == 0, "Adam did not step")
        var after = t.store.values.array
        after[0] = before[0]
        #expect(after == before)
      }
    }
  }

  @Test func directionLengthMismatchIsAnError() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    let wrong = FeatureDirection(
      direction: [1, 2, 3], threshold: 0, nPositive: 1, nNegative: 1, latentSpace: "z", labeler: "", sourceModel: "",
      thresholdSource: "user")
    var config = TrainConfig()
    config.direction = "D.h5"
    #expect(throws: UsageError.self) {
      _ = try UnlearningTrainer(
        config: config, source: try ModelIO.load(files.model), direction: wrong, communicator: LocalCommunicator())
    }
  }
}

/// `routing: "labeler"` (``LabelerRouter``): the labeler's positives move along −u to the first candidate
/// it calls negative; everything else keeps its reconstruction target.
@Suite struct LabelerRoutingTests {
  /// A trainer on the tiny model whose router calls an image positive when its ink area is at least the
  /// median area of the first step's images, so both kinds occur.
  /// The median ink area of the tiny run's first batch: a cut that makes both kinds occur.
  static func medianAreaOfFirstBatch() throws -> Float {
    let probe = try UnlearningTrainerTests().makeTrainer(temporaryFolder())
    probe.sample(stepIndex: 0)
    let areas = Attribute.measure(.area, images: probe.original.forward(probe.latents)).sorted()
    return areas[areas.count / 2]
  }

  func makeTrainer(_ dir: String, candidates: Int = 4) throws -> UnlearningTrainer {
    let cut = try Self.medianAreaOfFirstBatch()
    return try UnlearningTrainerTests().makeTrainer(dir) {
      $0.routing = "labeler"
      $0.routerLabeler = "attribute:area:min=\(cut)"
      $0.routerStep = 1.5
      $0.routerCandidates = candidates
    }
  }

  @Test func positivesMoveToTheFirstNegativeCandidateAndNegativesStay() throws {
    let trainer = try makeTrainer(temporaryFolder())
    let router = try #require(trainer.labelerRouter)
    let f = trainer.original, d = f.latentDim, u = trainer.unit, t = trainer.threshold
    let cut = try #require(router.labeler.cut)
    var moved = 0, kept = 0
    for s in 0..<4 {
      trainer.sample(stepIndex: s)
      let targets = router.targets(
        latents: trainer.latents, original: f, direction: trainer.direction, unit: u, threshold: t,
        routed: &trainer.routed, routedLatents: trainer.routedLatents)
      let plain = f.forward(trainer.latents).clone()
      let per = plain.count / trainer.slice.count
      let area = Attribute.measure(.area, images: plain)
      for i in 0..<trainer.slice.count {
        let z = trainer.latents.pointer + i * d, zh = trainer.routedLatents.pointer + i * d
        let row = Tensor(shape: [1, d], values: Array(UnsafeBufferPointer(start: zh, count: d)))
        let own = f.forward(row).clone()
        #expect(trainer.routed[i] == (Double(area[i]) >= cut))
        if !trainer.routed[i] {
          kept += 1
          for k in 0..<d { #expect(zh[k] == z[k]) }
          for k in 0..<per { #expect(targets[i * per + k] == plain[i * per + k]) }
          continue
        }
        moved += 1
        // ẑ = z − (max(u·z − t, 0) + kΔ)·u for an integer k < K, and nothing but the u component changed.
        let p = trainer.direction.project(z, unit: u), base = max(p - t, 0)
        let shift = p - trainer.direction.project(zh, unit: u)
        let k = ((shift - base) / router.stepSize).rounded()
        #expect(abs(shift - base - k * router.stepSize) < 1e-4 && k >= 0 && Int(k) < router.candidates)
        for j in 0..<d { #expect(abs((z[j] - zh[j]) - Float(shift) * u[j]) < 1e-5) }
        // The target is f(ẑ) (rendered alone: routing does not depend on the batch), the first negative.
        for j in 0..<per { #expect(abs(targets[i * per + j] - own[j]) < 1e-5) }
        let ownArea = Double(Attribute.measure(.area, images: own)[0])
        if Int(k) < router.candidates - 1 { #expect(ownArea < cut) }
        for earlier in 0..<Int(k) {
          let zc = Tensor(shape: [1, d])
          for j in 0..<d { zc[j] = z[j] - Float(base + Double(earlier) * router.stepSize) * u[j] }
          #expect(Double(Attribute.measure(.area, images: f.forward(zc))[0]) >= cut, "candidate \(earlier) was negative")
        }
      }
    }
    #expect(moved > 0 && kept > 0, "both kinds exercised (\(moved) moved, \(kept) kept)")
  }

  @Test func trainingStepsReportTheLabelersPositives() throws {
    let trainer = try makeTrainer(temporaryFolder())
    let m = try trainer.runStep()
    let routed = Double(trainer.routed.filter { $0 }.count) / Double(trainer.config.globalBatch)
    #expect(m.fractionPositive == routed && routed > 0 && routed < 1)
    #expect(m.loss.isFinite && m.lossUnlearn > 0)
  }

  @Test func routesByTheDirectionsLabelerAndCutByDefault() throws {
    let dir = temporaryFolder()
    var d = FeatureDirection(
      direction: [1, 0], threshold: 0, nPositive: 1, nNegative: 1, latentSpace: "z",
      labeler: "attribute:thickness:top=0.1", sourceModel: "m.h5", thresholdSource: "mean_projection", cut: 3.25)
    try d.write(to: dir + "/d.h5")
    d = try FeatureDirection.read(dir + "/d.h5")
    #expect(d.cut == 3.25)
    #expect(try LabelerRouter.spec(nil, direction: d) == .attribute(.thickness, cut: .minimum(3.25)))
    #expect(try LabelerRouter.spec("attribute:area:min=7", direction: d) == .attribute(.area, cut: .minimum(7)))
    d.cut = nil  // a direction written before cuts were stored: the batch-ranking spec stays, and is refused
    #expect(throws: UsageError.self) {
      _ = try LabelerRouter(labeler: LabelerRouter.spec(nil, direction: d), stepSize: 0.5, candidates: 4)
    }
  }

  @Test func batchRankingLabelersAreRejected() throws {
    #expect {
      _ = try LabelerRouter(labeler: .attribute(.thickness, cut: .topFraction(0.1)), stepSize: 0.5, candidates: 4)
    } throws: { "\($0)".contains("min=V") }
  }
}
