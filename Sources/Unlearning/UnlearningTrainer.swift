import Distributed
import Foundation
import IO
import Models
import NN
import Tensor

/// The paper's unlearning run (DESIGN.md §1 step 3) as a data-parallel trainer (DESIGN.md §2).
///
/// g_θ starts as a copy of the pretrained generator f; f stays frozen. For latent z with
/// proj(z) = u·z ≥ t, ẑ = z − (proj(z) − t)·u and the loss is α·(‖g(z) − f(ẑ)‖ + 1 − MS-SSIM(g(z), f(ẑ)));
/// otherwise ‖g(z) − f(z)‖. L is the mean over the *global* batch; Adam updates every replica identically.
///
/// Rank r takes a contiguous slice of the B latents of each step; latent j of step s is
/// Philox(seed)(s, j), and each rank's gradient is normalised by B, so the allreduce SUM is the
/// full-batch gradient whatever the number of ranks. Normalisation layers of g and f use their frozen
/// running statistics, so no sample depends on how the batch was split.
public final class UnlearningTrainer {
  public let config: TrainConfig
  public let communicator: Communicator
  /// The frozen pretrained generator f.
  public let original: DCGANGenerator
  /// The generator being unlearned, g_θ.
  public let model: DCGANGenerator
  /// The source model (for other networks a checkpoint carries over, e.g. a VAE's encoder).
  public let source: LoadedModel
  public let store: ParameterStore
  public let adam: Adam
  public let direction: FeatureDirection
  /// u, the unit direction.
  public let unit: [Float]
  public let threshold: Double
  /// Set for `routing: "labeler"`; nil routes by the projection (the paper).
  public let labelerRouter: LabelerRouter?
  /// Steps completed so far.
  public private(set) var step = 0
  /// Metrics of every completed step.
  public private(set) var history: [StepMetrics] = []
  /// Per-phase seconds of the last step (rank-local).
  public private(set) var lastTimes = PhaseTimes()
  /// L1 pixel differences up to 2⁻²⁰ (≈ 8 float ulps at 1) have subgradient 0 (see ``L1Loss``), so that
  /// rounding differences between rank counts cannot flip signs and 1 and N ranks stay on one trajectory.
  public static let l1DeadZone: Float = 1.0 / 1_048_576

  /// Tests turn this off to run a step on latents they placed in `latents` themselves.
  var drawsLatents = true
  /// Test hook, read once at start: `UNLEARN_TEST_INJECT_NAN=rank:step` makes this rank's loss NaN at that
  /// 1-based step (only this rank's), to check that all ranks agree to skip or stop (docs/RELIABILITY.md).
  let injectNaNAtStep: Int?

  let sampler: LatentSampler
  let distance: PerSampleLoss
  let perceptual: MSSSIMLoss?
  let buckets: GradientBuckets
  let watchdog: Watchdog
  let slice: Range<Int>
  let latents: Tensor  // [n, nz]
  let routedLatents: Tensor  // [n, nz]: ẑ for routed, z otherwise
  var routed: [Bool]
  var distanceWeights: [Float]
  var perceptualWeights: [Float]
  let dImages: Tensor
  /// For each `model.main` layer index, the backward-order indices of its parameters.
  let parametersOfLayer: [[Int]]

  /// - Parameters:
  ///   - config: the run (validated here).
  ///   - source: the pretrained model; its generator becomes f (frozen) and a copy becomes g.
  public init(config: TrainConfig, source: LoadedModel, direction: FeatureDirection, communicator: Communicator) throws
  {
    try config.validate()
    self.config = config
    self.communicator = communicator
    self.source = source
    self.direction = direction
    original = try source.requireGenerator()
    if direction.direction.count != original.latentDim {
      throw UsageError(
        "direction \(config.direction): length \(direction.direction.count) ≠ latent size \(original.latentDim) of \(source.path)"
      )
    }
    if config.globalBatch < communicator.size {
      throw UsageError(
        "option --global-batch: \(config.globalBatch) is smaller than the \(communicator.size) ranks; every rank needs at least one latent"
      )
    }
    model = DCGANGenerator(source.architecture)
    try ModelIO.assign(original.stateDict(), to: model, group: "generator", path: source.path)
    original.setMode(.inference)
    original.forwardOnly = true  // f is never differentiated: its forward keeps no activations for backward
    model.setMode(.inference)
    unit = direction.unit
    threshold = config.threshold ?? direction.threshold
    labelerRouter =
      config.routing == "labeler"
      ? try LabelerRouter(
        labeler: LabelerRouter.spec(config.routerLabeler, direction: direction), stepSize: config.routerStep,
        candidates: config.routerCandidates) : nil

    store = ParameterStore(model.namedParameters())
    adam = Adam(
      count: store.count, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2)

    // Gradient buckets: parameters in backward order (last layer first).
    let params = model.namedParameters().map { $0.1 }
    let offsetOf = Dictionary(uniqueKeysWithValues: store.entries.map { ($0.name, $0.offset) })
    let names = model.namedParameters().map { $0.0 }
    var ranges: [Range<Int>] = []
    var perLayer = [[Int]](repeating: [], count: model.main.layers.count)
    for (li, layer) in model.main.layers.enumerated().reversed() {
      for (local, p) in layer.namedParameters() {
        let name = "main.\(li).\(local)"
        precondition(names.contains(name) && params.contains { $0 === p })
        perLayer[li].append(ranges.count)
        ranges.append(offsetOf[name]!..<(offsetOf[name]! + p.value.count))
      }
    }
    parametersOfLayer = perLayer
    buckets = GradientBuckets(
      communicator: communicator, gradients: store.gradients.buffer, parameterRanges: ranges,
      bucketBytes: Int(config.bucketMegabytes * 1_048_576), owner: store.gradients)
    watchdog = Watchdog(rank: communicator.rank, timeout: config.watchdogSeconds)

    let inject = ProcessInfo.processInfo.environment["UNLEARN_TEST_INJECT_NAN"]?
      .split(separator: ":").compactMap { Int($0) }
    injectNaNAtStep = inject?.count == 2 && inject![0] == communicator.rank ? inject![1] : nil
    sampler = LatentSampler(seed: config.seed, dimension: original.latentDim)
    slice = shard(config.globalBatch, rank: communicator.rank, size: communicator.size)
    latents = Tensor(shape: [slice.count, original.latentDim])
    routedLatents = Tensor(shape: [slice.count, original.latentDim])
    routed = [Bool](repeating: false, count: slice.count)
    distanceWeights = [Float](repeating: 0, count: slice.count)
    perceptualWeights = [Float](repeating: 0, count: slice.count)
    dImages = Tensor(shape: [slice.count] + original.outputShape)
    distance = config.distance == "mse" ? MSELoss() : L1Loss(deadZone: UnlearningTrainer.l1DeadZone)
    if config.perceptual == "ms-ssim" {
      let side = original.outputShape[1]
      let scales = config.msSsimScales > 0 ? config.msSsimScales : MSSSIM.defaultScales(height: side, width: side)
      var smallest = side
      for _ in 1..<scales { smallest = (smallest + 1) / 2 }
      if smallest < config.msSsimWindow {
        throw UsageError(
          "config key \"ms_ssim_scales\": \(scales) scales shrink \(side)-px images to \(smallest) px, below the \(config.msSsimWindow)-px window"
        )
      }
      perceptual = MSSSIMLoss(scales: scales, windowSize: config.msSsimWindow, sigma: Float(config.msSsimSigma))
    } else {
      perceptual = nil
    }
    model.main.onLayerBackward = { [unowned self] li in
      for p in self.parametersOfLayer[li] { try! self.buckets.parameterReady(p) }
      try! self.buckets.poll()
    }
  }

  /// Draws this rank's latents of step `stepIndex` (0-based) into `latents`.
  func sample(stepIndex: Int) {
    sampler.fill(stream: LatentStream.training(step: stepIndex), indices: slice, into: latents.pointer)
  }

  /// Routes `latents`: fills `routedLatents` and `routed`. Routed latents land exactly on the threshold,
  /// proj(ẑ) = t (up to float rounding).
  func route() {
    routed = direction.route(latents, unit: unit, threshold: threshold, into: routedLatents)
  }

  /// One optimisation step on every rank. Returns the global metrics (identical on all ranks).
  @discardableResult
  public func runStep() throws -> StepMetrics {
    var times = PhaseTimes()
    let t0 = Date()
    var mark = t0
    func lap() -> Double {
      let now = Date()
      defer { mark = now }
      return now.timeIntervalSince(mark)
    }
    let b = Double(config.globalBatch), alpha = Float(config.alpha)
    if drawsLatents { sample(stepIndex: step) }
    let target: Tensor
    if let labelerRouter {
      times.sample = lap()
      target = labelerRouter.targets(
        latents: latents, original: original, direction: direction, unit: unit, threshold: threshold,
        routed: &routed, routedLatents: routedLatents)
    } else {
      route()
      times.sample = lap()
      target = original.forward(routedLatents)
    }
    times.originalForward = lap()
    let output = model.forward(latents)
    times.modelForward = lap()

    let dist = distance.forward(prediction: output, target: target)
    let perc = perceptual?.forward(prediction: output, target: target)
    // sums: recon, unlearn, percep, routed count, non-finite count
    var sums = [Double](repeating: 0, count: 5)
    for i in 0..<slice.count {
      if routed[i] {
        sums[1] += Double(dist[i])
        sums[2] += Double(perc?[i] ?? 0)
        sums[3] += 1
        distanceWeights[i] = alpha / Float(b)
        perceptualWeights[i] = alpha / Float(b)
      } else {
        sums[0] += Double(dist[i])
        distanceWeights[i] = 1 / Float(b)
        perceptualWeights[i] = 0
      }
    }
    if step + 1 == injectNaNAtStep { sums[0] = .nan }
    dImages.copy(from: distance.backward(weights: distanceWeights))
    if let perceptual {
      let dp = perceptual.backward(weights: perceptualWeights)
      Elementwise.axpy(1, dp.pointer, dImages.pointer, dImages.count)
    }
    times.loss = lap()

    store.zeroGradients()
    _ = model.backward(dImages)
    times.backward = lap()
    let timing = try watchdog.guarding("gradient allreduce", step: step + 1) { try buckets.finish() }
    times.allreduceWait = timing.waitSeconds
    times.allreduceWindow = timing.communicationSeconds
    _ = lap()

    // Agree on the step's outcome: the loss sums and a non-finite flag, reduced together.
    let gradientsFinite = Elementwise.allFinite(store.gradients.pointer, store.count)
    sums[4] = (gradientsFinite && sums[0...2].allSatisfy(\.isFinite)) ? 0 : 1
    try sums.withUnsafeMutableBufferPointer { buf in
      try watchdog.guarding("metrics allreduce", step: step + 1) { try communicator.allreduceSum(buf) }
    }
    let nonfinite = sums[4] > 0
    if nonfinite && config.onNonfinite == "stop" {
      throw TrainingError.nonfinite(step: step + 1)
    }
    if !nonfinite { adam.step(parameters: store.values.buffer, gradients: UnsafeBufferPointer(store.gradients.buffer)) }
    times.optimizer = lap()
    times.total = Date().timeIntervalSince(t0)
    lastTimes = times

    step += 1
    let a = config.alpha
    let m = StepMetrics(
      step: step, loss: a * (sums[1] + sums[2]) / b + sums[0] / b, lossRecon: sums[0] / b,
      lossUnlearn: sums[1] / b, lossPercep: sums[2] / b, fractionPositive: sums[3] / b,
      seconds: times.total, skipped: nonfinite)
    history.append(m)
    return m
  }

  /// Trains until `config.steps`, writing checkpoints and metrics (rank 0) and a progress line.
  public func train(log: (String) -> Void = { _ in }) throws {
    let root = communicator.rank == 0
    let progress = Progress(label: "train", total: config.steps, enabled: root, startingAt: step)
    let metricsPath = (config.out as NSString).appendingPathComponent("metrics.jsonl")
    if root {
      removeStaleTemporaries()
      try rewriteMetricsFile(metricsPath)
    }
    var samples = 0
    while step < config.steps {
      let m = try runStep()
      samples += config.globalBatch
      if root {
        if m.skipped {
          log("step \(m.step): non-finite loss or gradient on some rank; step skipped (on_nonfinite = skip)")
        }
        if m.step % config.logEvery == 0 || m.step == config.steps { try appendLine(m.jsonLine, to: metricsPath) }
        progress.update(
          step,
          String(
            format: "L_recon %.4f  L_unlearn %.4f  L_percep %.4f  routed %.2f", m.lossRecon, m.lossUnlearn,
            m.lossPercep, m.fractionPositive),
          samples: samples)
      }
      if config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < config.steps {
        try writeCheckpoint()
      }
    }
    try writeCheckpoint()
    watchdog.stop()
  }

  /// Path of the run's checkpoint.
  public var checkpointPath: String { (config.out as NSString).appendingPathComponent("latest.h5") }

  /// Rank 0 writes `latest.h5` atomically (temp file, fsync, rename); all ranks wait for it.
  public func writeCheckpoint() throws {
    var failed = false
    var message = ""
    if communicator.rank == 0 {
      do { try Checkpoint.write(trainer: self, to: checkpointPath) } catch {
        failed = true
        message = "\(error)"
      }
    }
    let anyFailed = try watchdog.guarding("checkpoint agreement", step: step) { try communicator.agree(failed) }
    if anyFailed {
      throw TrainingError.checkpointFailed(path: checkpointPath, reason: message.isEmpty ? "failed on rank 0" : message)
    }
  }

  /// Deletes `latest.h5.tmp-PID` / `metrics.jsonl.tmp-PID` files in the output folder whose writer is gone
  /// (a job killed while writing a checkpoint); `latest.h5` itself is the last complete checkpoint.
  func removeStaleTemporaries() {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: config.out) else { return }
    for name in names where name.hasPrefix("latest.h5.tmp-") || name.hasPrefix("metrics.jsonl.tmp-") {
      guard let pid = Int32(name.split(separator: "-").last ?? ""), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
      else { continue }
      unlink((config.out as NSString).appendingPathComponent(name))
    }
  }

  func restoreProgress(step: Int, history: [StepMetrics]) {
    self.step = step
    self.history = history
  }

  /// Rewrites metrics.jsonl from the in-memory history (so a resumed run's file equals an uninterrupted one).
  func rewriteMetricsFile(_ path: String) throws {
    let lines = history.filter { $0.step % config.logEvery == 0 || $0.step == config.steps }.map { $0.jsonLine + "\n" }
    try AtomicText.write(lines.joined(), to: path)
  }

  func appendLine(_ line: String, to path: String) throws {
    guard let h = FileHandle(forWritingAtPath: path) else { throw UsageError("\(path): cannot open for appending") }
    defer { try? h.close() }
    h.seekToEndOfFile()
    h.write(Data((line + "\n").utf8))
  }
}

/// Failures of a run that every rank agreed on.
public enum TrainingError: Error, CustomStringConvertible {
  case nonfinite(step: Int)
  case checkpointFailed(path: String, reason: String)
  public var description: String {
    switch self {
    case .nonfinite(let s):
      return
        "step \(s): non-finite loss or gradient; stopping (set on_nonfinite to \"skip\" to skip such steps). The last checkpoint is intact."
    case .checkpointFailed(let p, let r): return "\(p): writing the checkpoint failed: \(r)"
    }
  }
}

/// Writing small text files atomically.
public enum AtomicText {
  public static func write(_ text: String, to path: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
      throw UsageError("\(path): cannot write (folder missing or not writable)")
    }
    if rename(tmp, path) != 0 {
      unlink(tmp)
      throw UsageError("\(path): cannot rename the temporary file into place: \(String(cString: strerror(errno)))")
    }
  }
}
