import Foundation
import IO
import Models
import Tensor
import Unlearning

/// An IDX image range named by `--<prefix>images`, `--<prefix>from`, `--<prefix>count`, as a tensor in [−1, 1].
func idxImageRange(_ args: Arguments, prefix: String) throws -> (Tensor, String)? {
  guard let path = args.string("\(prefix)images") else { return nil }
  try checkInputFile(path, flag: "--\(prefix)images")
  let raw = try IDX.readImages(path)
  let from = try args.int("\(prefix)from", min: 0) ?? 0
  let count = min(try args.int("\(prefix)count", min: 2) ?? raw.count, raw.count - from)
  guard count >= 2 else { throw UsageError("option --\(prefix)from \(from): \(path) has only \(raw.count) images") }
  return (raw.tensor(from: from, count: count), "\(path)[\(from)..<\(from + count)]")
}

let evalCommand = Command(
  name: "eval",
  abstract: "Measure an unlearned model against its original: target ratio, FID, IS, preservation.",
  discussion: """
    Renders f (--original) and g (--model) on the same --count latents (spread over the ranks). With \
    --classifier, FID and IS use the classifier's hidden features and probabilities; FID is against \
    --real-images (IDX; e.g. the held-out MNIST digits with --real-from 8000), or against f's samples on \
    independent latents when no real images are given. Preservation (mean L1 and SSIM between g(z) and \
    f(z)) is measured on latents below the threshold of --direction, or on f's negatives without one.
    """,
  usage:
    "unlearn eval --model <M.h5> --original <M0.h5> --labeler <SPEC> --count <N> --seed <S> [--classifier <C.h5>] --json <OUT.json>",
  options: [
    Option(name: "model", value: "<file>", help: "The unlearned model (or checkpoint).", required: true),
    Option(name: "original", value: "<file>", help: "The original pretrained model.", required: true),
    Option(name: "labeler", value: "<spec>", help: "Labeler spec, as for collect.", required: true),
    Option(name: "count", value: "<n>", help: "Latents to evaluate.", defaultValue: "5000"),
    Option(name: "seed", value: "<s>", help: "Seed of the evaluation latents.", defaultValue: "1"),
    Option(name: "classifier", value: "<file>", help: "Classifier model file for FID and IS."),
    Option(name: "direction", value: "<file>", help: "Direction file: preservation on latents below its threshold."),
    Option(name: "real-images", value: "<idx>", help: "IDX images for FID."),
    Option(name: "real-from", value: "<k>", help: "First real image used.", defaultValue: "0"),
    Option(name: "real-count", value: "<n>", help: "Number of real images used (default: all from --real-from)."),
    Option(name: "json", value: "<file>", help: "Write the results as JSON.", required: true),
    Option(name: "report", value: "<file>", help: "Also write an HDF5 report."),
    Option(name: "png", value: "<file>", help: "PNG: the same latents rendered by f (left) and g (right)."),
  ],
  run: { args in
    let modelPath = try args.required("model"), originalPath = try args.required("original")
    let json = try args.required("json")
    let spec = try LabelerSpec.parse(try args.required("labeler"))
    if case .ids = spec { throw CommandLineError(message: "option '--labeler': ids labelers only work with collect") }
    try checkInputFile(modelPath, flag: "--model")
    try checkInputFile(originalPath, flag: "--original")
    try checkOutputFile(json, flag: "--json")
    for flag in ["report", "png"] { if let p = args.string(flag) { try checkOutputFile(p, flag: "--" + flag) } }
    let count = try args.int("count", min: 2)!
    let comm = Runtime.communicator
    let g = try ModelIO.load(modelPath).requireGenerator()
    let f = try ModelIO.load(originalPath).requireGenerator()
    guard g.latentDim == f.latentDim, g.outputShape == f.outputShape else {
      throw UsageError("\(modelPath) and \(originalPath) have different architectures")
    }
    let classifier = try args.string("classifier").map { p -> Classifier in
      try checkInputFile(p, flag: "--classifier")
      return try ModelIO.load(p).requireClassifier()
    }
    let direction = try args.string("direction").map { p -> FeatureDirection in
      try checkInputFile(p, flag: "--direction")
      return try FeatureDirection.read(p)
    }
    let report = try Evaluator(communicator: comm).evaluate(
      model: g, original: f, labeler: try Labeler(spec), count: count, seed: try args.seed(), classifier: classifier,
      realImages: try idxImageRange(args, prefix: "real-"), direction: direction, comparisonPNG: args.string("png"))
    if comm.rank == 0 {
      try AtomicText.write(report.json + "\n", to: json)
      if let r = args.string("report") { try ReportFile.write(json: report.json, kind: "unlearn.eval", to: r) }
      print(EvaluationTable.render(report))
    }
  })

let attackCommand = Command(
  name: "attack",
  abstract: "Try to bring the feature back: walk along the direction, and gradient ascent on the latent.",
  discussion: """
    (a) Direction walk: the target ratio of f and g at z + s·u for each s of --walk. (b) Gradient attack \
    (classifier labelers): maximise log p(K | G(z)) by normalised gradient steps, keeping ‖z − z₀‖₂ ≤ \
    --budget; reports the fraction of latents labelled positive afterwards, for f and g.
    """,
  usage:
    "unlearn attack --model <M.h5> --original <M0.h5> --labeler <SPEC> --direction <D.h5> --json <OUT.json> [options]",
  options: [
    Option(name: "model", value: "<file>", help: "The unlearned model.", required: true),
    Option(name: "original", value: "<file>", help: "The original model.", required: true),
    Option(name: "labeler", value: "<spec>", help: "Labeler spec, as for collect.", required: true),
    Option(name: "direction", value: "<file>", help: "Direction file (for the walk).", required: true),
    Option(name: "count", value: "<n>", help: "Latents attacked.", defaultValue: "1000"),
    Option(name: "seed", value: "<s>", help: "Seed of the attacked latents.", defaultValue: "2"),
    Option(name: "walk", value: "<s,s,...>", help: "Steps along u.", defaultValue: "0,1,2,3,4"),
    Option(
      name: "gradient-count", value: "<n>", help: "Gradient attack: latents attacked (the first of the walk's).",
      defaultValue: "200"),
    Option(name: "budget", value: "<r>", help: "Gradient attack: L2 budget on the latent change.", defaultValue: "2"),
    Option(name: "attack-steps", value: "<k>", help: "Gradient attack steps.", defaultValue: "20"),
    Option(name: "step-size", value: "<η>", help: "Gradient attack step length in latent space.", defaultValue: "0.25"),
    Option(name: "json", value: "<file>", help: "Write the results as JSON.", required: true),
  ],
  run: { args in
    let modelPath = try args.required("model"), originalPath = try args.required("original")
    let json = try args.required("json")
    let spec = try LabelerSpec.parse(try args.required("labeler"))
    if case .ids = spec { throw CommandLineError(message: "option '--labeler': ids labelers only work with collect") }
    for (flag, p) in [
      ("--model", modelPath), ("--original", originalPath), ("--direction", try args.required("direction")),
    ] { try checkInputFile(p, flag: flag) }
    try checkOutputFile(json, flag: "--json")
    let steps = try (args.string("walk") ?? "").split(separator: ",").map { s -> Double in
      guard let v = Double(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
        throw CommandLineError(message: "option '--walk': '\(s)' is not a number")
      }
      return v
    }
    let count = try args.int("count", min: 1)!, seed = try args.seed()
    let comm = Runtime.communicator
    let g = try ModelIO.load(modelPath).requireGenerator()
    let f = try ModelIO.load(originalPath).requireGenerator()
    let direction = try FeatureDirection.read(try args.required("direction"))
    guard direction.direction.count == f.latentDim else {
      throw UsageError(
        "\(try args.required("direction")): direction length \(direction.direction.count) ≠ latent size \(f.latentDim)")
    }
    let attacker = Attacker(communicator: comm)
    let labeler = try Labeler(spec)
    var report = AttackReport(
      count: count, seed: seed, labeler: spec.description,
      walk: try attacker.walk(
        model: g, original: f, labeler: labeler, direction: direction, count: count, seed: seed, steps: steps))
    if case .classifier(_, let k) = spec, let c = labeler.classifier {
      let budget = try args.double("budget")!, n = try args.int("attack-steps", min: 1)!,
        eta = try args.double("step-size")!
      let attacked = min(count, try args.int("gradient-count", min: 1)!)
      report.gradientBudget = budget
      report.gradientSteps = n
      report.gradientCount = attacked
      report.gradientSuccessOriginal = try attacker.gradient(
        generator: f, classifier: c, classIndex: k, count: attacked, seed: seed, budget: budget, steps: n, stepSize: eta
      )
      report.gradientSuccess = try attacker.gradient(
        generator: g, classifier: c, classIndex: k, count: attacked, seed: seed, budget: budget, steps: n, stepSize: eta
      )
    }
    if comm.rank == 0 {
      try AtomicText.write(report.json + "\n", to: json)
      print(EvaluationTable.render(report))
    }
  })

/// Plain-text tables of results.
enum EvaluationTable {
  static func pct(_ x: Double) -> String { String(format: "%5.1f%%", 100 * x) }
  static func num(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }

  static func render(_ r: EvaluationReport) -> String {
    var s = "                         original   unlearned\n"
    s +=
      "target ratio               \(pct(r.targetRatioOriginal))      \(pct(r.targetRatio))   (\(String(format: "%+.0f%%", 100 * r.targetRatioChange)))\n"
    if let f = r.targetRatioFloor { s += "  floor (f on the loss's targets f(ẑ))    \(pct(f))\n" }
    if let fid = r.fid, let fo = r.fidOriginal {
      if r.fidReference == "original_samples" {
        // The reference is f itself (no real images given): f's value is the sampling-noise floor, so a
        // percentage of it would mislead.
        s += String(format: "FID to f's own samples      %6.3f      %6.3f   (f: sampling-noise floor)\n", fo, fid)
      } else {
        s += String(
          format: "FID (%@)\n                          %9.3f   %9.3f   (%+.1f%%)\n", r.fidReference ?? "", fo, fid,
          fo > 0 ? 100 * (fid - fo) / fo : 0)
      }
    }
    if let i = r.inceptionScore, let io = r.inceptionScoreOriginal {
      s += String(format: "inception score            %6.3f      %6.3f\n", io, i)
    }
    s += String(
      format: "preservation (%@, n=%d): L1 %.4f, SSIM %.4f", r.preservationSet, r.preservationCount, r.preservationL1,
      r.preservationSSIM)
    return s
  }

  static func render(_ r: AttackReport) -> String {
    var s = "direction walk z + s·u       f        g\n"
    for p in r.walk {
      s += String(format: "  s = %-5g              %@   %@\n", p.step, pct(p.targetRatioOriginal), pct(p.targetRatio))
    }
    if let a = r.gradientSuccessOriginal, let b = r.gradientSuccess {
      s += String(
        format: "gradient attack (‖δ‖ ≤ %g, %d steps)   %@   %@", r.gradientBudget ?? 0, r.gradientSteps ?? 0, pct(a),
        pct(b))
    }
    return s
  }
}
