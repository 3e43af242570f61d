import Foundation

/// What one unlearning step did, averaged over the global batch (identical on every rank).
public struct StepMetrics: Equatable, Codable {
  /// 1-based step number.
  public var step: Int
  /// L = α·(L_unlearn + L_percep) + L_recon.
  public var loss: Double
  /// Σ over non-routed latents of ‖g(z) − f(z)‖ / B.
  public var lossRecon: Double
  /// Σ over routed latents of ‖g(z) − f(ẑ)‖ / B.
  public var lossUnlearn: Double
  /// Σ over routed latents of (1 − MS-SSIM(g(z), f(ẑ))) / B.
  public var lossPercep: Double
  /// Fraction of the batch routed to the unlearning loss (proj ≥ t).
  public var fractionPositive: Double
  /// Wall seconds of the step on rank 0.
  public var seconds: Double
  /// Whether the step was skipped because of a non-finite loss or gradient.
  public var skipped: Bool

  enum CodingKeys: String, CodingKey {
    case step, loss, seconds, skipped
    case lossRecon = "loss_recon", lossUnlearn = "loss_unlearn", lossPercep = "loss_percep"
    case fractionPositive = "fraction_positive"
  }

  /// One line of metrics.jsonl. A skipped step's non-finite losses are written as the strings "nan", "inf"
  /// and "-inf" (JSON has no such numbers; Python's `float()` reads both forms).
  public var jsonLine: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }

  /// Column names of the `/metrics` table in checkpoints.
  public static let columns = [
    "step", "loss", "loss_recon", "loss_unlearn", "loss_percep", "fraction_positive", "seconds", "skipped",
  ]

  public var row: [Double] {
    [Double(step), loss, lossRecon, lossUnlearn, lossPercep, fractionPositive, seconds, skipped ? 1 : 0]
  }

  public init(row: [Double]) {
    step = Int(row[0])
    loss = row[1]
    lossRecon = row[2]
    lossUnlearn = row[3]
    lossPercep = row[4]
    fractionPositive = row[5]
    seconds = row[6]
    skipped = row[7] != 0
  }

  public init(
    step: Int, loss: Double, lossRecon: Double, lossUnlearn: Double, lossPercep: Double, fractionPositive: Double,
    seconds: Double, skipped: Bool
  ) {
    self.step = step
    self.loss = loss
    self.lossRecon = lossRecon
    self.lossUnlearn = lossUnlearn
    self.lossPercep = lossPercep
    self.fractionPositive = fractionPositive
    self.seconds = seconds
    self.skipped = skipped
  }
}

/// Seconds spent in each phase of a step (rank-local), for `unlearn bench`.
public struct PhaseTimes: Equatable {
  public var sample = 0.0
  public var originalForward = 0.0
  public var modelForward = 0.0
  public var loss = 0.0
  public var backward = 0.0
  public var allreduceWait = 0.0
  public var allreduceWindow = 0.0
  public var optimizer = 0.0
  public var total = 0.0
  public init() {}
  public static func += (a: inout PhaseTimes, b: PhaseTimes) {
    a.sample += b.sample
    a.originalForward += b.originalForward
    a.modelForward += b.modelForward
    a.loss += b.loss
    a.backward += b.backward
    a.allreduceWait += b.allreduceWait
    a.allreduceWindow += b.allreduceWindow
    a.optimizer += b.optimizer
    a.total += b.total
  }
}
