import Foundation

/// Settings of `unlearn pretrain gan|vae|classifier`. Keys are snake_case; flags are kebab-case.
public struct PretrainConfig: RunConfiguration, Equatable {
  /// "gan", "vae" or "classifier".
  public var kind: String = "gan"
  /// A preset name (dcgan28, dcgan64, vae28, classifier28) or an architecture JSON object as a string.
  public var architecture: String = ""
  /// IDX images and labels (plain or gzip).
  public var images: String = ""
  public var labels: String = ""
  /// The first `train_count` images train; the rest are held out (MNIST test split: 8000 / 2000).
  public var trainCount: Int = 8000
  public var out: String = ""
  public var steps: Int = 1000
  public var globalBatch: Int = 64
  public var seed: UInt64 = 0
  public var learningRate: Double = 2e-4
  public var beta1: Double = 0.5
  public var beta2: Double = 0.999
  /// VAE: pixel noise σ of the Gaussian likelihood on the [−1, 1] scale.
  public var vaeSigma: Double = 0.7
  public var checkpointEvery: Int = 500
  public var logEvery: Int = 50
  public var watchdogSeconds: Double = 300

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case kind, architecture, images, labels, out, steps, seed, beta1, beta2
    case trainCount = "train_count", globalBatch = "global_batch", learningRate = "learning_rate"
    case vaeSigma = "vae_sigma", checkpointEvery = "checkpoint_every", logEvery = "log_every"
    case watchdogSeconds = "watchdog_seconds"
  }

  public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

  public func validate() throws {
    func bad(_ key: String, _ why: String) -> UsageError { UsageError("config key \"\(key)\": \(why)") }
    if !["gan", "vae", "classifier"].contains(kind) {
      throw bad("kind", "must be gan, vae or classifier, got \"\(kind)\"")
    }
    if steps < 0 { throw bad("steps", "must be ≥ 0, got \(steps)") }
    if globalBatch <= 0 { throw bad("global_batch", "must be > 0, got \(globalBatch)") }
    if trainCount <= 0 { throw bad("train_count", "must be > 0, got \(trainCount)") }
    if !(learningRate > 0) || !learningRate.isFinite {
      throw bad("learning_rate", "must be a finite number > 0, got \(learningRate)")
    }
    if !(0..<1).contains(beta1) { throw bad("beta1", "must be in [0, 1), got \(beta1)") }
    if !(0..<1).contains(beta2) { throw bad("beta2", "must be in [0, 1), got \(beta2)") }
    if !(vaeSigma > 0) { throw bad("vae_sigma", "must be > 0, got \(vaeSigma)") }
    if checkpointEvery < 0 { throw bad("checkpoint_every", "must be ≥ 0, got \(checkpointEvery)") }
    if logEvery <= 0 { throw bad("log_every", "must be > 0, got \(logEvery)") }
    if !(watchdogSeconds > 0) { throw bad("watchdog_seconds", "must be > 0, got \(watchdogSeconds)") }
  }

  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }
}
