import Foundation
import Models
import Tensor
import Unlearning

let benchCommand = Command(
  name: "bench",
  abstract: "Time the real unlearning step: samples/s, GFLOP/s vs. the measured sgemm rate, phases, memory.",
  discussion: """
    Runs the training step of 'unlearn train' (g forward/backward, frozen f forward, L1 + MS-SSIM loss, \
    bucketed gradient allreduce, Adam) on a freshly initialised model of the given architecture. Launch \
    under 'mpirun -np N' for N ranks; --threads sets OpenBLAS threads per rank (default cores ÷ ranks). \
    --ranks only checks that the launch matches.
    """,
  usage:
    "unlearn bench [--model dcgan28|dcgan64|<json>] [--global-batch B] [--steps K] [--warmup W] [--repeats R] [--threads T] [--ranks N] [--json FILE] [--profile] [--block NB] [--layer-path]",
  options: [
    Option(name: "model", value: "<name>", help: "Architecture preset or JSON.", defaultValue: "dcgan28"),
    Option(name: "global-batch", value: "<b>", help: "Latents per step over all ranks.", defaultValue: "64"),
    Option(name: "steps", value: "<k>", help: "Timed steps.", defaultValue: "20"),
    Option(name: "warmup", value: "<w>", help: "Untimed steps first.", defaultValue: "3"),
    Option(
      name: "repeats", value: "<r>", help: "Timed runs of --steps steps; the median run is reported.", defaultValue: "3"
    ),
    Option(name: "threads", value: "<t>", help: "OpenBLAS threads per rank."),
    Option(name: "ranks", value: "<n>", help: "Expected number of ranks (error if the launch differs)."),
    Option(name: "json", value: "<file>", help: "Also write the report as JSON."),
    Option(
      name: "block", value: "<nb>", help: "Samples per block of the fast generator path (0: automatic).",
      defaultValue: "0"),
    Option(
      name: "layer-path", value: nil, help: "Run the generators layer by layer (the reference path), not the fast path."
    ),
    Option(name: "profile", value: nil, help: "Time every kernel of the generator fast path (adds a little overhead)."),
  ],
  run: { args in
    let name = args.string("model")!
    let arch = try Pretrainer.architecture(name)
    guard arch.family == "dcgan" || arch.family == "vae" else {
      throw CommandLineError(message: "option '--model': bench needs a generator architecture")
    }
    if let j = args.string("json") { try checkOutputFile(j, flag: "--json") }
    let comm = Runtime.communicator
    if let t = try args.int("threads", min: 1) { BLASThreads.count = t }
    if let r = try args.int("ranks", min: 1), r != comm.size {
      throw UsageError(
        "option --ranks \(r): launched with \(comm.size) rank(s); use 'mpirun -np \(r) unlearn bench ...'")
    }
    let r = try Benchmark.run(
      architecture: arch, name: name, globalBatch: try args.int("global-batch", min: 1)!,
      steps: try args.int("steps", min: 1)!,
      warmup: try args.int("warmup", min: 0)!, communicator: comm, repeats: try args.int("repeats", min: 1)!,
      profile: args.flag("profile"),
      batchBlock: try args.int("block", min: 0)!, fastPath: !args.flag("layer-path"))
    if comm.rank == 0 {
      var s = String(
        format: "bench %@: global batch %d, %d rank(s) × %d thread(s), %d steps × %d runs (load average %@)\n", name,
        r.globalBatch, r.ranks, r.threadsPerRank, r.steps, r.repeats, loadAverage())
      s +=
        "  runs (samples/s): " + r.samplesPerSecondRuns.map { String(format: "%.1f", $0) }.joined(separator: ", ")
        + "\n"
      s += String(
        format: "  %.1f samples/s   %.1f GFLOP/s   (%.2f GFLOP/step; sgemm here %.1f GFLOP/s → %.0f%%)\n",
        r.samplesPerSecond, r.gflopsPerSecond, r.flopsPerStep / 1e9, r.sgemmGflopsPerSecond, 100 * r.fractionOfSgemm)
      s += "  median ms per phase (rank 0):"
      for k in [
        "sample_and_route", "original_forward", "model_forward", "loss", "backward", "allreduce_wait", "optimizer",
        "step",
      ] {
        s += String(format: " %@ %.1f", k, 1000 * (r.phaseSeconds[k] ?? 0))
      }
      s += String(
        format:
          "\n  allreduce hidden behind backward: %.0f%%   gradient allreduce alone: %.2f ms (%.3f ns/byte)   parameters: %d",
        100 * r.allreduceHiddenFraction, 1000 * r.allreduceSeconds, 1e9 * r.allreduceSecondsPerByte, r.parameterCount)
      s += String(format: "\n  peak RSS per rank: %.0f MiB =", r.peakResidentMegabytes)
      var known = 0.0
      for k in [
        "g_values_and_gradients", "f_weights", "adam_moments", "g_activations_and_workspaces",
        "f_activations_and_workspaces",
      ] {
        let v = r.memoryMegabytes[k] ?? 0
        known += v
        s += String(format: " %@ %.0f +", k, v)
      }
      s += String(format: " rest (loss workspaces, trainer buffers, runtime, libraries) %.0f", r.peakResidentMegabytes - known)
      if let k = r.kernelMilliseconds {
        for net in ["f", "g"] {
          for (i, stage) in (k[net] ?? []).enumerated() {
            s += String(format: "\n  %@ stage %d:", net, i)
            for (name, ms) in stage.sorted(by: { $0.key < $1.key }) { s += String(format: " %@ %.2f", name, ms) }
          }
        }
      }
      s += "\n  load average after: \(loadAverage())"
      print(s)
      if let j = args.string("json") { try AtomicText.write(r.json + "\n", to: j) }
    }
  })

/// The 1-, 5- and 15-minute load averages from /proc/loadavg ("?" elsewhere): the cores are shared, so
/// every figure is printed next to the load it was measured under.
func loadAverage() -> String {
  guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
  return text.split(separator: " ").prefix(3).joined(separator: " ")
}
