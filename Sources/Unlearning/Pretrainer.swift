import Distributed
import Foundation
import IO
import Models
import NN
import Tensor

/// Data-parallel pretraining of the project's own models (DCGAN, VAE, classifier) on IDX images.
///
/// Each step takes a global batch of B training images (epoch-wise Philox shuffles, identical on every
/// rank); rank r reads its contiguous slice. Per-sample losses are normalised by B, gradients are summed
/// over ranks, and BatchNorm statistics are summed over ranks (SyncBatchNorm), so 1 and N ranks train the
/// same model up to float rounding.
public final class Pretrainer {
  public let config: PretrainConfig
  public let communicator: Communicator
  public let model: LoadedModel
  public let data: IDXDataset
  /// Networks trained, each with its flat parameters and Adam ("generator", "discriminator", "vae", "classifier").
  public private(set) var parts: [(name: String, store: ParameterStore, adam: Adam)] = []
  public private(set) var step = 0
  /// Logged rows: step then the kind's metric columns.
  public private(set) var history: [[Double]] = []
  public let columns: [String]
  let watchdog: Watchdog
  let trainCount: Int
  private var permutationEpoch = -1
  private var permutation: [Int] = []

  public init(config: PretrainConfig, data: IDXDataset, communicator: Communicator) throws {
    try config.validate()
    self.config = config
    self.communicator = communicator
    self.data = data
    let arch = try Pretrainer.architecture(config.architecture)
    let wantedFamily = ["gan": "dcgan", "vae": "vae", "classifier": "classifier"][config.kind]!
    guard arch.family == wantedFamily else {
      throw UsageError(
        "config key \"architecture\": pretrain \(config.kind) needs a \(wantedFamily) architecture, got family \"\(arch.family)\""
      )
    }
    let side = data.images.shape[2], channels = data.images.shape[1]
    guard arch.outputSize == side, arch.channels == channels else {
      throw UsageError(
        "\(config.images): images are \(channels)×\(side)×\(data.images.shape[3]), architecture makes \(arch.channels)×\(arch.outputSize)×\(arch.outputSize)"
      )
    }
    trainCount = min(config.trainCount, data.count)
    if config.globalBatch < communicator.size {
      throw UsageError("option --global-batch: \(config.globalBatch) is smaller than the \(communicator.size) ranks")
    }
    model = ModelIO.build(arch, seed: config.seed)
    switch config.kind {
    case "gan":
      columns = ["step", "loss_d", "loss_g", "d_real", "d_fake"]
      let nets: [(String, Layer)] = [("generator", model.generator!), ("discriminator", model.discriminator!)]
      for (name, net) in nets {
        let s = ParameterStore(net.namedParameters())
        parts.append(
          (name, s, Adam(count: s.count, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2)))
      }
    case "vae":
      columns = ["step", "loss", "recon", "kl"]
      let s = ParameterStore(
        model.encoder!.namedParameters(prefix: "encoder.") + model.generator!.namedParameters(prefix: "generator."))
      parts = [
        ("vae", s, Adam(count: s.count, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2))
      ]
      model.generator!.needsInputGradient = true
    default:
      columns = ["step", "loss", "accuracy"]
      let s = ParameterStore(model.classifier!.namedParameters())
      parts = [
        (
          "classifier", s,
          Adam(count: s.count, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2)
        )
      ]
    }
    watchdog = Watchdog(rank: communicator.rank, timeout: config.watchdogSeconds)
    // SyncBatchNorm: sum per-channel statistics over ranks.
    if communicator.size > 1 {
      for (_, net) in model.networks {
        Pretrainer.syncBatchNorm(
          net, communicator: communicator, watchdog: watchdog, step: { [unowned self] in self.step })
      }
    }
    for (_, net) in model.networks { net.setMode(.training) }
  }

  /// A preset name or architecture JSON.
  public static func architecture(_ spec: String) throws -> Architecture {
    if let a = Architecture.presets[spec] { return a }
    if spec.trimmingCharacters(in: .whitespaces).hasPrefix("{") { return try Architecture.parse(spec) }
    throw UsageError(
      "config key \"architecture\": \"\(spec)\" is neither a preset (\(Architecture.presets.keys.sorted().joined(separator: ", "))) nor JSON"
    )
  }

  static func syncBatchNorm(_ layer: Layer, communicator: Communicator, watchdog: Watchdog, step: @escaping () -> Int) {
    if let bn = layer as? BatchNorm2d {
      bn.statisticsReducer = { buf in
        do {
          try watchdog.guarding("batchnorm statistics allreduce", step: step() + 1) {
            try communicator.allreduceSum(buf)
          }
        } catch {
          communicator.abort(message: "batchnorm statistics allreduce failed: \(error)", code: 1)
        }
      }
    }
    for (_, c) in layer.children { syncBatchNorm(c, communicator: communicator, watchdog: watchdog, step: step) }
  }

  /// Indices of the global batch of step `s` (0-based): epoch-wise shuffles of the training images.
  func batchIndices(step s: Int) -> [Int] {
    let b = config.globalBatch
    return (0..<b).map { k in
      let j = s * b + k
      let epoch = j / trainCount
      if epoch != permutationEpoch {
        var rng = PhiloxGenerator(seed: config.seed, stream: LatentStream.pretraining + 1 + UInt64(epoch))
        permutation = Array(0..<trainCount)
        permutation.shuffle(using: &rng)
        permutationEpoch = epoch
      }
      return permutation[j % trainCount]
    }
  }

  /// This rank's images (and labels) of step s.
  func localBatch(step s: Int) -> (Tensor, [UInt8], Range<Int>) {
    let all = batchIndices(step: s)
    let mine = shard(all.count, rank: communicator.rank, size: communicator.size)
    let per = data.images.count / data.count
    let x = Tensor(shape: [mine.count] + Array(data.images.shape.dropFirst()))
    var y: [UInt8] = []
    for (row, k) in mine.enumerated() {
      (x.pointer + row * per).update(from: data.images.pointer + all[k] * per, count: per)
      y.append(data.labels[all[k]])
    }
    return (x, y, mine)
  }

  func allreduce(_ store: ParameterStore, phase: StaticString) throws {
    try watchdog.guarding(phase, step: step + 1) { try communicator.allreduceSum(store.gradients.buffer) }
  }

  func sumOverRanks(_ values: [Double]) throws -> [Double] {
    var v = values
    try v.withUnsafeMutableBufferPointer { b in
      try watchdog.guarding("metrics allreduce", step: step + 1) { try communicator.allreduceSum(b) }
    }
    return v
  }

  /// One step; returns the metric columns after "step".
  @discardableResult
  public func runStep() throws -> [Double] {
    let out: [Double]
    switch config.kind {
    case "gan": out = try ganStep()
    case "vae": out = try vaeStep()
    default: out = try classifierStep()
    }
    step += 1
    history.append([Double(step)] + out)
    return out
  }

  let bce = BCEWithLogitsLoss()
  let crossEntropy = CrossEntropyLoss()
  private var fake: Tensor?

  func ganStep() throws -> [Double] {
    let g = model.generator!, d = model.discriminator!
    let (gp, dp) = (parts[0], parts[1])
    let (x, _, mine) = localBatch(step: step)
    let n = mine.count, b = Float(config.globalBatch)
    let z = LatentSampler(seed: config.seed, dimension: g.latentDim).latents(
      stream: LatentStream.pretraining,
      indices: (step * config.globalBatch + mine.lowerBound)..<(step * config.globalBatch + mine.upperBound))
    let fakeImages = Tensor.reuse(fake, shape: [n] + g.outputShape)
    fake = fakeImages
    fakeImages.copy(from: g.forward(z))
    let ones = Tensor(shape: [n, 1]), zeros = Tensor(shape: [n, 1])
    ones.fill(1)
    let w = [Float](repeating: 1 / b, count: n)

    // Discriminator: real → 1, fake → 0.
    dp.store.zeroGradients()
    let realLogits = d.forward(x)
    var dReal = 0.0
    for i in 0..<n { dReal += Double(1 / (1 + exp(-realLogits[i]))) }
    let lossReal = bce.forward(prediction: realLogits, target: ones)
    _ = d.backward(bce.backward(weights: w))
    let fakeLogits = d.forward(fakeImages)
    var dFake = 0.0
    for i in 0..<n { dFake += Double(1 / (1 + exp(-fakeLogits[i]))) }
    let lossFake = bce.forward(prediction: fakeLogits, target: zeros)
    _ = d.backward(bce.backward(weights: w))
    try allreduce(dp.store, phase: "discriminator gradient allreduce")
    dp.adam.step(parameters: dp.store.values.buffer, gradients: UnsafeBufferPointer(dp.store.gradients.buffer))

    // Generator: non-saturating loss, fake → 1 through the updated discriminator.
    gp.store.zeroGradients()
    let logits = d.forward(fakeImages)
    let lossG = bce.forward(prediction: logits, target: ones)
    let dImages = d.backward(bce.backward(weights: w))
    _ = g.backward(dImages)
    try allreduce(gp.store, phase: "generator gradient allreduce")
    gp.adam.step(parameters: gp.store.values.buffer, gradients: UnsafeBufferPointer(gp.store.gradients.buffer))

    let s = try sumOverRanks([
      lossReal.reduce(0) { $0 + Double($1) } + lossFake.reduce(0) { $0 + Double($1) },
      lossG.reduce(0) { $0 + Double($1) }, dReal, dFake,
    ])
    return s.map { $0 / Double(config.globalBatch) }
  }

  func vaeStep() throws -> [Double] {
    let e = model.encoder!, g = model.generator!, p = parts[0]
    let (x, _, mine) = localBatch(step: step)
    let n = mine.count, nz = e.latentDim, b = Float(config.globalBatch)
    p.store.zeroGradients()
    let mu = e.forward(x), lv = e.lastLogVariance
    let eps = LatentSampler(seed: config.seed, dimension: nz).latents(
      stream: LatentStream.pretraining,
      indices: (step * config.globalBatch + mine.lowerBound)..<(step * config.globalBatch + mine.upperBound))
    let z = Tensor(shape: [n, nz])
    for i in 0..<(n * nz) { z[i] = mu[i] + exp(0.5 * lv[i]) * eps[i] }
    let xhat = g.forward(z)
    let inv2s2 = Float(1 / (2 * config.vaeSigma * config.vaeSigma))
    var recon = 0.0, kl = 0.0
    let dx = Tensor(shape: xhat.shape)
    for i in 0..<xhat.count {
      let diff = xhat[i] - x[i]
      recon += Double(diff * diff * inv2s2)
      dx[i] = 2 * diff * inv2s2 / b
    }
    let dz = g.backward(dx)
    let dmu = Tensor(shape: [n, nz]), dlv = Tensor(shape: [n, nz])
    for i in 0..<(n * nz) {
      let sd = exp(0.5 * lv[i])
      kl += Double(-0.5 * (1 + lv[i] - mu[i] * mu[i] - sd * sd))
      dmu[i] = dz[i] + mu[i] / b
      dlv[i] = dz[i] * eps[i] * 0.5 * sd + 0.5 * (sd * sd - 1) / b
    }
    _ = e.backward(dMean: dmu, dLogVariance: dlv)
    try allreduce(p.store, phase: "vae gradient allreduce")
    p.adam.step(parameters: p.store.values.buffer, gradients: UnsafeBufferPointer(p.store.gradients.buffer))
    let s = try sumOverRanks([recon + kl, recon, kl])
    return s.map { $0 / Double(config.globalBatch) }
  }

  func classifierStep() throws -> [Double] {
    let c = model.classifier!, p = parts[0]
    let (x, y, mine) = localBatch(step: step)
    let n = mine.count
    p.store.zeroGradients()
    let logits = c.forward(x)
    let target = Tensor(shape: [n], values: y.map(Float.init))
    let losses = crossEntropy.forward(prediction: logits, target: target)
    let predicted = logits.rowArgmax()
    let correct = Double((0..<n).filter { predicted[$0] == Int(y[$0]) }.count)
    _ = c.backward(crossEntropy.backward(weights: [Float](repeating: 1 / Float(config.globalBatch), count: n)))
    try allreduce(p.store, phase: "classifier gradient allreduce")
    p.adam.step(parameters: p.store.values.buffer, gradients: UnsafeBufferPointer(p.store.gradients.buffer))
    let s = try sumOverRanks([losses.reduce(0) { $0 + Double($1) }, correct])
    return s.map { $0 / Double(config.globalBatch) }
  }

  /// Trains to `config.steps` with checkpoints, metrics.jsonl and a progress line (rank 0).
  public func train(log: (String) -> Void = { _ in }) throws {
    let root = communicator.rank == 0
    let progress = Progress(label: "pretrain \(config.kind)", total: config.steps, enabled: root, startingAt: step)
    let metricsPath = (config.out as NSString).appendingPathComponent("metrics.jsonl")
    if root {
      try AtomicText.write(history.filter { Int($0[0]) % config.logEvery == 0 }.map(jsonLine).joined(), to: metricsPath)
    }
    var samples = 0
    while step < config.steps {
      let m = try runStep()
      samples += config.globalBatch
      if root {
        let text = zip(columns.dropFirst(), m).map { String(format: "%@ %.4f", $0, $1) }.joined(separator: "  ")
        if step % config.logEvery == 0 || step == config.steps {
          if let h = FileHandle(forWritingAtPath: metricsPath) {
            h.seekToEndOfFile()
            h.write(Data(jsonLine(history.last!).utf8))
            try? h.close()
          }
        }
        progress.update(step, text, samples: samples)
      }
      if config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < config.steps {
        try writeCheckpoint()
      }
    }
    try writeCheckpoint()
    if root {
      var networks = model.networks
      for (_, n) in networks { n.setMode(.inference) }
      networks = model.networks
      try ModelIO.modelFile(architecture: model.architecture, networks: networks).write(to: modelPath)
    }
    _ = try communicator.agree(false)
    watchdog.stop()
  }

  func jsonLine(_ row: [Double]) -> String {
    // Non-finite values as strings ("nan", "inf"): JSON has no literal for them.
    "{"
      + zip(columns, row).map { name, v in
        "\"\(name)\": " + (name == "step" ? String(Int(v)) : v.isFinite ? String(v) : "\"\(v)\"")
      }.joined(separator: ", ") + "}\n"
  }

  public var checkpointPath: String { (config.out as NSString).appendingPathComponent("latest.h5") }
  /// The final model file (no optimizer state).
  public var modelPath: String { (config.out as NSString).appendingPathComponent("model.h5") }

  public func writeCheckpoint() throws {
    var message = ""
    if communicator.rank == 0 {
      do {
        let file = try HDF5File.create(checkpointPath)
        try ModelIO.modelFile(architecture: model.architecture, networks: model.networks).write(to: file)
        for p in parts { try OptimizerState.write(p.adam, store: p.store, to: file, group: "/optimizer/\(p.name)") }
        try Checkpoint.writeRunAttributes(
          file, step: step, worldSize: communicator.size, seed: config.seed, configJSON: config.json)
        try Checkpoint.writeMetrics(history, columns: columns, to: file)
        try file.commit()
      } catch { message = "\(error)" }
    }
    if try communicator.agree(!message.isEmpty) {
      throw TrainingError.checkpointFailed(path: checkpointPath, reason: message.isEmpty ? "failed on rank 0" : message)
    }
  }

  /// Restores weights, BatchNorm statistics, Adam states, step and metrics.
  public func restore(from path: String) throws {
    let header = try Checkpoint.header(path)
    let saved = try ModelFile.read(path)
    for (name, net) in model.networks {
      guard let dict = saved.groups[name] else { throw UsageError("\(path): missing group /\(name)") }
      try ModelIO.assign(dict, to: net, group: name, path: path)
    }
    let f = try HDF5File.open(path)
    for p in parts {
      try OptimizerState.read(into: p.adam, store: p.store, from: f, group: "/optimizer/\(p.name)", path: path)
    }
    history = try Checkpoint.readMetrics(f, columns: columns, path: path)
    step = header.step
  }

  /// Classifier accuracy on the held-out images (index ≥ train_count), spread over the ranks.
  public func heldOutAccuracy() throws -> Double? {
    guard let c = model.classifier, data.count > trainCount else { return nil }
    c.setMode(.inference)
    defer { c.setMode(.training) }
    let n = data.count - trainCount, per = data.images.count / data.count
    let hits = try Distribute.rows(count: n, rowShape: [1], communicator: communicator) { r in
      let x = Tensor(
        viewing: data.images.pointer + (trainCount + r.lowerBound) * per,
        shape: [r.count] + Array(data.images.shape.dropFirst()), owner: data.images)
      let predicted = c.forward(x).rowArgmax()
      let out = Tensor(shape: [r.count, 1])
      for i in 0..<r.count { out[i] = predicted[i] == Int(data.labels[trainCount + r.lowerBound + i]) ? 1 : 0 }
      return out
    }
    return Double(hits.buffer.reduce(0, +)) / Double(n)
  }
}
