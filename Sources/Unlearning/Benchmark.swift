import Distributed
import Foundation
import Models
import NN
import Tensor

/// Measures the real unlearning step (`unlearn bench`): throughput, FLOP rate, the machine's sgemm rate
/// with the same threads, time per phase, memory, and how much allreduce time backward hid.
public struct BenchmarkReport: Codable {
  public var model: String
  public var globalBatch: Int
  public var ranks: Int
  public var threadsPerRank: Int
  public var steps: Int
  /// Timed runs of `steps` steps; throughput is the median run's.
  public var repeats: Int
  public var samplesPerSecond: Double
  /// Samples/s of every timed run.
  public var samplesPerSecondRuns: [Double]
  /// FLOPs of one step over all ranks (2 per multiply-add of conv/convT layers; g forward+backward = 3×
  /// forward, frozen f 1× forward).
  public var flopsPerStep: Double
  public var gflopsPerSecond: Double
  /// sgemm 1024² rate measured here with the same threads per rank after every run (median), summed over
  /// ranks (they measure at the same time).
  public var sgemmGflopsPerSecond: Double
  public var fractionOfSgemm: Double
  /// Median seconds per phase on rank 0.
  public var phaseSeconds: [String: Double]
  public var allreduceHiddenFraction: Double
  public var peakResidentMegabytes: Double
  public var parameterCount: Int
  /// Median seconds of one blocking allreduce of the whole gradient (`4 · parameterCount` bytes), timed
  /// after the steps, and that time per byte: the measured input of the scaling model (docs/PERFORMANCE.md).
  public var allreduceSeconds: Double
  public var allreduceSecondsPerByte: Double
  /// What the resident memory holds (MiB): g's values and gradients, f's weights (values and unused
  /// gradient tensors), Adam's two moments, and the activations and workspaces of g and f.
  public var memoryMegabytes: [String: Double]
  /// With `--profile`: milliseconds per step by generator ("g", "f"), stage and kernel of the fast path.
  public var kernelMilliseconds: [String: [[String: Double]]]?

  enum CodingKeys: String, CodingKey {
    case model, ranks, steps, repeats
    case samplesPerSecondRuns = "samples_per_second_runs"
    case globalBatch = "global_batch", threadsPerRank = "threads_per_rank", samplesPerSecond = "samples_per_second"
    case flopsPerStep = "flops_per_step", gflopsPerSecond = "gflops_per_second", sgemmGflopsPerSecond =
      "sgemm_gflops_per_second"
    case fractionOfSgemm = "fraction_of_sgemm", phaseSeconds = "phase_seconds", allreduceHiddenFraction =
      "allreduce_hidden_fraction"
    case peakResidentMegabytes = "peak_resident_megabytes", parameterCount = "parameter_count"
    case kernelMilliseconds = "kernel_milliseconds", allreduceSeconds = "allreduce_seconds"
    case allreduceSecondsPerByte = "allreduce_seconds_per_byte", memoryMegabytes = "memory_megabytes"
  }

  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }
}

public enum Benchmark {
  /// Multiply-adds of one generator forward per sample.
  public static func generatorMACs(_ a: Architecture) -> Double {
    let w = a.widths, b = a.baseSize!
    var macs = Double(a.latentDim! * w[0] * b * b)  // 1×1 → b×b
    var side = b
    for i in 0..<(w.count - 1) {
      macs += Double(w[i] * w[i + 1] * 16 * side * side)  // per input pixel, k4 s2
      side *= 2
    }
    macs += Double(w.last! * a.channels * 16 * side * side)
    return macs
  }

  /// Measured single-precision GEMM rate (GFLOP/s) of a 1024² product with the current BLAS threads.
  public static func sgemmRate(size n: Int = 1024, repeats: Int = 5) -> Double {
    let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
    for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
    sgemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer)
    var best = Double.infinity
    for _ in 0..<repeats {
      let t = Date()
      sgemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer)
      best = min(best, Date().timeIntervalSince(t))
    }
    return 2 * Double(n * n * n) / best / 1e9
  }

  /// Peak resident set size of this process in MiB.
  public static func peakResidentMegabytes() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
  }

  /// Runs `steps` timed steps after `warmup` on a model built from `architecture` (weights from `seed`;
  /// speed does not depend on them) with a random direction and threshold 0, so about half the batch is
  /// routed to the unlearning loss, as in real runs.
  public static func run(
    architecture: Architecture, name: String, globalBatch: Int, steps: Int, warmup: Int, communicator: Communicator,
    repeats: Int = 1, profile: Bool = false, batchBlock: Int = 0, fastPath: Bool = true
  ) throws -> BenchmarkReport {
    precondition(repeats >= 1 && steps >= 1)
    let source = ModelIO.build(architecture, seed: 7, withDiscriminator: false, path: name)
    var rng = PhiloxGenerator(seed: 99)
    let dir = (0..<architecture.latentDim!).map { _ in rng.nextNormal() }
    let direction = FeatureDirection(
      direction: dir, threshold: 0, nPositive: 1, nNegative: 1, latentSpace: "z", labeler: "bench", sourceModel: name,
      thresholdSource: "user")
    var config = TrainConfig()
    config.globalBatch = globalBatch
    config.steps = warmup + steps
    config.model = name
    config.direction = "random"
    let trainer = try UnlearningTrainer(
      config: config, source: source, direction: direction, communicator: communicator)
    trainer.model.batchBlock = batchBlock
    trainer.model.usesFastPath = fastPath
    trainer.original.usesFastPath = fastPath
    trainer.original.batchBlock = batchBlock
    for _ in 0..<warmup { try trainer.runStep() }
    let profiles = profile ? (g: GeneratorProfile(), f: GeneratorProfile()) : nil
    trainer.model.profile = profiles?.g
    trainer.original.profile = profiles?.f
    var times: [PhaseTimes] = []
    var windows: [Double] = []  // seconds of each timed run of `steps` steps
    var gemmRates: [Double] = []
    for _ in 0..<repeats {
      _ = try communicator.agree(false)
      let start = Date()
      for _ in 0..<steps {
        try trainer.runStep()
        times.append(trainer.lastTimes)
      }
      _ = try communicator.agree(false)
      windows.append(Date().timeIntervalSince(start))
      gemmRates.append(sgemmRate())  // right after each run, under the same load
    }
    // The median run, as tools/bench/torch_step.py reports (rank 0's clock; all ranks end together).
    let elapsed = windows.sorted()[windows.count / 2]
    var gemmSum = [gemmRates.sorted()[gemmRates.count / 2]]
    try gemmSum.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
    let flops = 2 * generatorMACs(architecture) * 4 * Double(globalBatch)
    func median(_ k: KeyPath<PhaseTimes, Double>) -> Double {
      let v = times.map { $0[keyPath: k] }.sorted()
      return v.isEmpty ? 0 : v[v.count / 2]
    }
    let window = times.reduce(0) { $0 + $1.allreduceWindow }, wait = times.reduce(0) { $0 + $1.allreduceWait }
    let rss = try communicator.allreduceMax(peakResidentMegabytes())  // the largest rank
    // Raw allreduce of a gradient-sized buffer (not overlapped with anything).
    let probe = Tensor(shape: [trainer.store.count])
    var allreduceTimes: [Double] = []
    for _ in 0..<7 {
      try communicator.barrier()
      let t = Date()
      try communicator.allreduceSum(probe.buffer)
      allreduceTimes.append(Date().timeIntervalSince(t))
    }
    let allreduceSeconds = try communicator.allreduceMax(allreduceTimes.sorted()[allreduceTimes.count / 2])
    let mib = 1.0 / 1_048_576, p = Double(trainer.store.count)
    let memory: [String: Double] = [
      "g_values_and_gradients": 8 * p * mib, "f_weights": 8 * p * mib, "adam_moments": 8 * p * mib,
      "g_activations_and_workspaces": Double(trainer.model.fastPathWorkspaceBytes) * mib,
      "f_activations_and_workspaces": Double(trainer.original.fastPathWorkspaceBytes) * mib,
    ]
    let rate = flops * Double(steps) / elapsed / 1e9
    return BenchmarkReport(
      model: name, globalBatch: globalBatch, ranks: communicator.size, threadsPerRank: BLASThreads.count, steps: steps,
      repeats: repeats, samplesPerSecond: Double(steps * globalBatch) / elapsed,
      samplesPerSecondRuns: windows.map { Double(steps * globalBatch) / $0 }, flopsPerStep: flops,
      gflopsPerSecond: rate,
      sgemmGflopsPerSecond: gemmSum[0], fractionOfSgemm: rate / gemmSum[0],
      phaseSeconds: [
        "sample_and_route": median(\.sample), "original_forward": median(\.originalForward),
        "model_forward": median(\.modelForward),
        "loss": median(\.loss), "backward": median(\.backward), "allreduce_wait": median(\.allreduceWait),
        "optimizer": median(\.optimizer), "step": median(\.total),
      ],
      allreduceHiddenFraction: window > 0 ? max(0, min(1, 1 - wait / window)) : 1,
      peakResidentMegabytes: rss, parameterCount: trainer.store.count, allreduceSeconds: allreduceSeconds,
      allreduceSecondsPerByte: allreduceSeconds / (4 * p), memoryMegabytes: memory,
      kernelMilliseconds: profiles.map { p in
        func perStep(_ q: GeneratorProfile) -> [[String: Double]] {
          q.seconds.map { $0.mapValues { 1000 * $0 / Double(max(q.calls, 1)) } }
        }
        return ["g": perStep(p.g), "f": perStep(p.f)]
      })
  }
}
