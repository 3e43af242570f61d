import Foundation
import IO
import Models
import Tensor
import Unlearning

let collectCommand = Command(
  name: "collect",
  abstract: "Sample latents, render them with the frozen generator and label them (step 1 of the method).",
  discussion: """
    Labelers: classifier:PATH:class=K (top class K is positive), attribute:NAME:top=F (the top fraction F \
    of the collected samples by a measured attribute: thickness, slant, area, length, width, height), \
    attribute:NAME:min=V (a fixed cut), ids:FILE (numbers a person picked from the --sheet contact sheet; \
    run once with --sheet to get the sheet, write the numbers into FILE, run again). Rendering is spread \
    over the ranks under mpirun.
    """,
  usage: "unlearn collect --model <M.h5> --count <N> --seed <S> --labeler <SPEC> --out <C.h5> [--sheet <sheet.png>]",
  options: [
    Option(name: "model", value: "<file>", help: "Pretrained model file.", required: true),
    Option(name: "count", value: "<n>", help: "Number of latents to collect.", defaultValue: "5000"),
    Option(name: "seed", value: "<s>", help: "Seed of the latents.", defaultValue: "0"),
    Option(
      name: "labeler", value: "<spec>", help: "Who decides which images show the feature (see above).", required: true),
    Option(name: "out", value: "<file>", help: "Collection file to write.", required: true),
    Option(name: "sheet", value: "<file>", help: "Write a numbered contact sheet PNG of the samples."),
    Option(name: "sheet-count", value: "<n>", help: "Images on the contact sheet.", defaultValue: "200"),
    Option(name: "keep-images", value: nil, help: "Store the rendered images in the collection."),
  ],
  run: { args in
    let modelPath = try args.required("model"), out = try args.required("out")
    let count = try args.int("count", min: 2)!
    let spec = try LabelerSpec.parse(try args.required("labeler"))
    try checkInputFile(modelPath, flag: "--model")
    try checkOutputFile(out, flag: "--out")
    if let s = args.string("sheet") { try checkOutputFile(s, flag: "--sheet") }
    let comm = Runtime.communicator
    let model = try ModelIO.load(modelPath)
    let g = try model.requireGenerator()
    let seed = try args.seed()
    if case .ids(let idsPath) = spec, !FileManager.default.fileExists(atPath: idsPath) {
      guard let sheet = args.string("sheet") else {
        throw UsageError(
          "\(idsPath): the ids file does not exist; run with --sheet <png> to get the numbered contact sheet first")
      }
      let n = min(count, try args.int("sheet-count", min: 1)!)
      let z = LatentSampler(seed: seed, dimension: g.latentDim).latents(stream: LatentStream.collection, indices: 0..<n)
      g.setMode(.inference)
      let images = g.forward(z)
      if comm.rank == 0 {
        try ImageGrid.contactSheet(images, columns: 20, scale: 2).writePNG(to: sheet)
        print(
          "wrote contact sheet \(sheet) with images 0–\(n - 1); write the numbers that show the feature into \(idsPath) and run again"
        )
      }
      return
    }
    let labeler = try Labeler(spec)
    let progress = Progress(label: "collect", total: count, enabled: comm.rank == 0)
    let c = try Collector.collect(
      model: model, count: count, seed: seed, labeler: labeler,
      keepImages: args.flag("keep-images") || args.has("sheet"),
      communicator: comm, progress: progress)
    if comm.rank == 0 {
      var stored = c
      if !args.flag("keep-images") { stored.images = nil }
      try stored.write(to: out)
      if let sheet = args.string("sheet"), let images = c.images {
        let n = min(count, try args.int("sheet-count", min: 1)!)
        let view = Tensor(viewing: images.pointer, shape: [n] + Array(images.shape.dropFirst()), owner: images)
        try ImageGrid.contactSheet(view, columns: 20, scale: 2).writePNG(to: sheet)
      }
      let cut = c.cut.map { String(format: ", cut %.4g", $0) } ?? ""
      print(
        "collected \(count) latents: \(c.positives) positive (\(String(format: "%.1f", 100 * Double(c.positives) / Double(count)))%)\(cut) → \(out)"
      )
    }
  })

let directionCommand = Command(
  name: "direction",
  abstract: "Fit the feature direction z_e = mean(z | positive) − mean(z | negative) and its threshold.",
  discussion: """
    --method mean-difference (the paper, default): z_e = mean(z | positive) − mean(z | negative) and the \
    threshold is the mean projection u·z over the collection. --method logistic: an L2-regularised, \
    class-balanced logistic regression of the labels on the latents; the threshold is its decision \
    boundary, or the projection that routes the fraction --recall of the collection's positives.
    """,
  usage:
    "unlearn direction --collection <C.h5> --out <D.h5> [--threshold <T>] [--method mean-difference|logistic [--recall R]]",
  options: [
    Option(name: "collection", value: "<file>", help: "Collection file from 'unlearn collect'.", required: true),
    Option(name: "out", value: "<file>", help: "Direction file to write.", required: true),
    Option(name: "threshold", value: "<t>", help: "Routing threshold on u·z (overrides the method's)."),
    Option(name: "method", value: "<name>", help: "mean-difference or logistic.", defaultValue: "mean-difference"),
    Option(name: "recall", value: "<r>", help: "logistic: route this fraction of the positives."),
    Option(name: "l2", value: "<λ>", help: "logistic: L2 penalty per sample.", defaultValue: "0.01"),
  ],
  run: { args in
    let cp = try args.required("collection"), out = try args.required("out")
    let threshold = try args.double("threshold")
    try checkInputFile(cp, flag: "--collection")
    try checkOutputFile(out, flag: "--out")
    let c = try Collection.read(cp)
    var d: FeatureDirection
    switch args.string("method")! {
    case "mean-difference": d = try FeatureDirection.fit(c, threshold: threshold, source: cp)
    case "logistic":
      d = try FeatureDirection.fitLogistic(c, l2: try args.double("l2")!, recall: try args.double("recall"), source: cp)
      if let t = threshold {
        d.threshold = t
        d.thresholdSource = "user"
      }
    default:
      throw CommandLineError(
        message: "option '--method': expected mean-difference or logistic, got '\(args.string("method")!)'")
    }
    if Runtime.isRoot {
      try d.write(to: out)
      let norm = d.direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
      print(
        String(
          format: "direction: ‖z_e‖ = %.4f, threshold %.4f (%@), %d positive / %d negative → %@",
          norm, d.threshold, d.thresholdSource, d.nPositive, d.nNegative, out))
    }
  })

let trainCommand = Command(
  name: "train",
  abstract: "Unlearn the feature: fine-tune a copy of the generator (data-parallel under mpirun).",
  discussion: """
    L = α·(‖g(z) − f(ẑ)‖₁ + 1 − MS-SSIM(g(z), f(ẑ))) for latents with u·z ≥ t (ẑ moved back onto the \
    threshold), ‖g(z) − f(z)‖₁ otherwise, averaged over the global batch; Adam. --routing labeler (not the \
    paper's; docs/RESULTS.md) instead moves exactly the latents whose f(z) --router-labeler calls \
    positive, along −u in steps of --router-step until it calls them negative. Writes OUT/latest.h5 (a \
    checkpoint that is also a model file) and OUT/metrics.jsonl. Every config key can be given as a flag \
    (--learning-rate, --alpha, --distance, --perceptual, --ms-ssim-scales, --checkpoint-every, \
    --on-nonfinite, ...); flags override --config, which overrides a resumed checkpoint's settings.
    """,
  usage:
    "unlearn train --model <M.h5> --direction <D.h5> --out <DIR> [--steps K] [--global-batch B] [--seed S] [--resume CKPT] [--config FILE]",
  options: [
    Option(name: "model", value: "<file>", help: "Pretrained model file (f, and g's starting point)."),
    Option(name: "direction", value: "<file>", help: "Direction file from 'unlearn direction'."),
    Option(name: "out", value: "<dir>", help: "Output folder (created if its parent exists)."),
    Option(name: "config", value: "<file>", help: "JSON run configuration (see configs/)."),
    Option(
      name: "resume", value: "<ckpt>",
      help: "Continue from a checkpoint (also one written by a different number of ranks)."),
    Option(
      name: "steps", value: "<k>", help: "Total steps of the run (a resumed run stops here too).", defaultValue: "300"),
    Option(name: "global-batch", value: "<b>", help: "Latents per step over all ranks.", defaultValue: "64"),
    Option(name: "seed", value: "<s>", help: "Seed of the latent stream.", defaultValue: "0"),
    Option(name: "learning-rate", value: "<lr>", help: "Adam learning rate.", defaultValue: "1e-4"),
    Option(name: "beta1", value: "<b1>", help: "Adam β1.", defaultValue: "0.5"),
    Option(name: "beta2", value: "<b2>", help: "Adam β2.", defaultValue: "0.999"),
    Option(name: "alpha", value: "<a>", help: "Weight of the unlearning terms.", defaultValue: "1"),
    Option(name: "distance", value: "<l1|mse>", help: "Pixel distance.", defaultValue: "l1"),
    Option(
      name: "perceptual", value: "<ms-ssim|none>", help: "Perceptual term on routed latents.", defaultValue: "ms-ssim"),
    Option(
      name: "ms-ssim-scales", value: "<n>", help: "MS-SSIM scales (0 = 2 up to 32 px, else 3).", defaultValue: "0"),
    Option(name: "ms-ssim-window", value: "<n>", help: "MS-SSIM Gaussian window.", defaultValue: "7"),
    Option(name: "ms-ssim-sigma", value: "<s>", help: "MS-SSIM Gaussian σ.", defaultValue: "1.5"),
    Option(name: "threshold", value: "<t>", help: "Override the direction file's threshold."),
    Option(
      name: "routing", value: "<projection|labeler>",
      help: "Which latents move: u·z ≥ t (the paper) or the labeler's positives.", defaultValue: "projection"),
    Option(
      name: "router-labeler", value: "<spec>",
      help: "routing labeler: a labeler spec (default: the direction's, with its cut)."),
    Option(name: "router-step", value: "<Δ>", help: "routing labeler: step along −u.", defaultValue: "0.5"),
    Option(name: "router-candidates", value: "<k>", help: "routing labeler: steps tried.", defaultValue: "8"),
    Option(
      name: "checkpoint-every", value: "<k>", help: "Checkpoint every k steps (0 = only at the end).",
      defaultValue: "100"),
    Option(name: "log-every", value: "<k>", help: "metrics.jsonl line every k steps.", defaultValue: "10"),
    Option(
      name: "on-nonfinite", value: "<stop|skip>", help: "What a NaN/Inf loss or gradient does.", defaultValue: "stop"),
    Option(name: "bucket-megabytes", value: "<mb>", help: "Gradient allreduce bucket size.", defaultValue: "2"),
    Option(
      name: "watchdog-seconds", value: "<s>", help: "Abort when a collective stalls this long.", defaultValue: "300"),
  ],
  run: { args in try runTrain(args) })

/// Resolves a run configuration: `defaults` < the `--resume` checkpoint's config < the `--config` file <
/// flags (every flag but --config/--resume is a config key in kebab-case). Errors name the file or flag.
func resolveConfig<T: Decodable>(_ type: T.Type, _ args: Arguments, keys: [String], defaults: [String: Any] = [:])
  throws -> T
{
  var merged = defaults
  if let r = args.string("resume") {
    try checkInputFile(r, flag: "--resume")
    let json = try Checkpoint.header(r).configJSON
    if let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] { merged.merge(o) { $1 } }
  }
  if let cf = args.string("config") {
    try checkInputFile(cf, flag: "--config")
    for (k, v) in try ConfigLoader.load([String: AnyCodable].self, path: cf, knownKeys: keys) { merged[k] = v.value }
  }
  let overrides = args.given.filter { !["config", "resume"].contains($0.0) }.map {
    (key: $0.0.replacingOccurrences(of: "-", with: "_"), value: $0.1, flag: "--" + $0.0)
  }
  return try ConfigLoader.merge(
    T.self, base: try JSONSerialization.data(withJSONObject: merged), overrides: overrides, knownKeys: keys,
    source: args.string("config") ?? "configuration")
}

/// Runs a config's `validate()`; a `config key "k": why` error is re-worded to name where the bad value
/// came from: its flag, else the --config file, else the resumed checkpoint.
func validateNamingSource(_ args: Arguments, _ validate: () throws -> Void) throws {
  do { try validate() } catch let e as UsageError {
    let prefix = "config key \""
    guard e.message.hasPrefix(prefix), let end = e.message.dropFirst(prefix.count).firstIndex(of: "\"") else { throw e }
    let key = String(e.message[e.message.index(e.message.startIndex, offsetBy: prefix.count)..<end])
    let why = e.message[e.message.index(after: end)...].drop { $0 == ":" || $0 == " " }
    if let (flag, _) = args.given.last(where: { $0.0.replacingOccurrences(of: "-", with: "_") == key }) {
      throw UsageError("option --\(flag): \(why)")
    }
    if let cf = args.string("config") { throw UsageError("\(cf): key \"\(key)\": \(why)") }
    if let r = args.string("resume") { throw UsageError("\(r): config key \"\(key)\" of the checkpoint: \(why)") }
    throw e
  }
}

func resolveTrainConfig(_ args: Arguments) throws -> TrainConfig {
  let config = try resolveConfig(TrainConfig.self, args, keys: TrainConfig.keys)
  try validateNamingSource(args) { try config.validate() }
  for (key, value) in [("model", config.model), ("direction", config.direction), ("out", config.out)]
  where value.isEmpty {
    throw CommandLineError(message: "missing required option '--\(key)' (or \"\(key)\" in --config)")
  }
  return config
}

func runTrain(_ args: Arguments) throws {
  let config = try resolveTrainConfig(args)
  try checkInputFile(config.model, flag: "--model")
  try checkInputFile(config.direction, flag: "--direction")
  try checkOutputFolder(config.out, flag: "--out")
  let comm = Runtime.communicator
  Runtime.setWatchdogTimeout(config.watchdogSeconds)
  let source = try ModelIO.load(config.model)
  let direction = try FeatureDirection.read(config.direction)
  let trainer = try UnlearningTrainer(config: config, source: source, direction: direction, communicator: comm)
  if let resume = args.string("resume") {
    let h = try trainer.restore(from: resume)
    Runtime.log("resumed \(resume) at step \(h.step) (saved by \(h.worldSizeAtSave) rank(s), now \(comm.size))")
  }
  // Only now that every input checked out: a rejected run leaves no output folder behind.
  if comm.rank == 0 { try prepareOutputFolder(config.out, flag: "--out") }
  _ = try comm.during("startup agreement") { try comm.agree(false) }
  Runtime.log(
    "train: \(comm.size) rank(s) × \(BLASThreads.count) BLAS thread(s), global batch \(config.globalBatch), threshold \(String(format: "%.4f", trainer.threshold))"
  )
  Runtime.log("config: \(config.json)")
  try trainer.train(log: { Runtime.log($0) })
  if comm.rank == 0 {
    let last = trainer.history.last
    print(
      "trained to step \(trainer.step)\(last.map { String(format: ": L %.4f (recon %.4f, unlearn %.4f, percep %.4f)", $0.loss, $0.lossRecon, $0.lossUnlearn, $0.lossPercep) } ?? "") → \(trainer.checkpointPath)"
    )
  }
}

/// A JSON value of any type, for merging config objects.
struct AnyCodable: Decodable {
  let value: Any
  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      value = NSNull()
    } else if let b = try? c.decode(Bool.self) {
      value = b
    } else if let i = try? c.decode(Int.self) {
      value = i
    } else if let d = try? c.decode(Double.self) {
      value = d
    } else if let s = try? c.decode(String.self) {
      value = s
    } else if let a = try? c.decode([AnyCodable].self) {
      value = a.map(\.value)
    } else if let o = try? c.decode([String: AnyCodable].self) {
      value = o.mapValues(\.value)
    } else {
      throw DecodingError.dataCorruptedError(in: c, debugDescription: "unsupported JSON value")
    }
  }
}
