import Foundation
import Unlearning

/// Runs one stage of the demo as a subprocess, under mpirun when ranks > 1.
func runStage(_ title: String, ranks: Int, _ arguments: [String]) throws {
  let exe = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
  let resolved = FileManager.default.fileExists(atPath: exe) ? exe : (Bundle.main.executablePath ?? exe)
  var argv = [resolved] + arguments
  var env = ProcessInfo.processInfo.environment
  if ranks > 1 {
    guard let mpirun = findExecutable("mpirun") else {
      throw UsageError("option --ranks \(ranks): mpirun not found on PATH (install openmpi-bin, or use --ranks 1)")
    }
    argv = [mpirun, "-np", String(ranks), "--oversubscribe", "--bind-to", "none"] + argv
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    if env["OPENBLAS_NUM_THREADS"] == nil {
      env["OPENBLAS_NUM_THREADS"] = String(max(1, ProcessInfo.processInfo.activeProcessorCount / ranks))
    }
  }
  printError("\n== \(title)\n$ \(argv.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "))")
  let p = Process()
  p.executableURL = URL(fileURLWithPath: argv[0])
  p.arguments = Array(argv.dropFirst())
  p.environment = env
  try p.run()
  p.waitUntilExit()
  if p.terminationStatus != 0 {
    throw UsageError("demo stage \"\(title)\" failed with exit code \(p.terminationStatus)")
  }
}

func findExecutable(_ name: String) -> String? {
  for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
    let p = "\(dir)/\(name)"
    if FileManager.default.isExecutableFile(atPath: p) { return p }
  }
  return nil
}

let demoCommand = Command(
  name: "demo",
  abstract: "The method end to end on the shipped MNIST GAN: collect → direction → train → eval → attack.",
  discussion: """
    Uses checkpoints/pretrained/ (run from the repository root). Makes the GAN forget digit 8 (labelled by \
    the shipped classifier) or thick strokes (--feature thickness), training on --ranks ranks under \
    mpirun, and writes everything under --out, ending with a table of target ratio, FID and preservation \
    before and after, and the direction-walk attack.
    """,
  usage: "unlearn demo [--feature digit8|thickness] [--ranks N] [--steps K] [--count N] [--out DIR]",
  options: [
    Option(name: "feature", value: "<digit8|thickness>", help: "What to forget.", defaultValue: "digit8"),
    Option(name: "ranks", value: "<n>", help: "MPI ranks for every stage.", defaultValue: "2"),
    Option(name: "steps", value: "<k>", help: "Unlearning steps.", defaultValue: "300"),
    Option(name: "count", value: "<n>", help: "Latents collected and evaluated.", defaultValue: "5000"),
    Option(name: "out", value: "<dir>", help: "Where to write the run.", defaultValue: "checkpoints/demo"),
    Option(
      name: "model", value: "<file>", help: "Pretrained generator.",
      defaultValue: "checkpoints/pretrained/mnist-dcgan28.h5"),
    Option(
      name: "classifier", value: "<file>", help: "Pretrained classifier.",
      defaultValue: "checkpoints/pretrained/mnist-classifier.h5"),
  ],
  run: { args in
    let feature = args.string("feature")!
    let labeler: String
    let classifier = args.string("classifier")!, model = args.string("model")!
    switch feature {
    case "digit8": labeler = "classifier:\(classifier):class=8"
    case "thickness": labeler = "attribute:thickness:top=0.1"
    default: throw CommandLineError(message: "option '--feature': expected digit8 or thickness, got '\(feature)'")
    }
    try checkInputFile(model, flag: "--model")
    try checkInputFile(classifier, flag: "--classifier")
    let ranks = try args.int("ranks", min: 1)!, steps = try args.int("steps", min: 1)!,
      count = try args.int("count", min: 100)!
    let out = args.string("out")!
    let parent = (out as NSString).deletingLastPathComponent
    if !parent.isEmpty { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
    try prepareOutputFolder(out, flag: "--out")
    let start = Date()
    let p = { (name: String) in (out as NSString).appendingPathComponent(name) }
    try runStage(
      "1/5 collect \(count) labelled samples", ranks: ranks,
      [
        "collect", "--model", model, "--count", String(count), "--seed", "0", "--labeler", labeler, "--out",
        p("collection.h5"),
        "--sheet", p("contact-sheet.png"), "--sheet-count", "100",
      ])
    try runStage(
      "2/5 fit the feature direction", ranks: 1,
      ["direction", "--collection", p("collection.h5"), "--out", p("direction.h5")])
    try runStage(
      "3/5 unlearn (\(steps) steps, \(ranks) rank(s))", ranks: ranks,
      [
        "train", "--model", model, "--direction", p("direction.h5"), "--out", p("run"), "--steps", String(steps),
        "--global-batch", "64", "--seed", "0", "--checkpoint-every", "100",
      ])
    try runStage(
      "4/5 evaluate on \(count) fresh latents", ranks: ranks,
      [
        "eval", "--model", p("run/latest.h5"), "--original", model, "--labeler", labeler, "--count", String(count),
        "--seed", "1",
        "--classifier", classifier, "--direction", p("direction.h5"), "--json", p("eval.json"), "--report",
        p("eval.h5"),
        "--png", p("original-vs-unlearned.png"),
      ])
    try runStage(
      "5/5 attack: walk along the direction", ranks: ranks,
      [
        "attack", "--model", p("run/latest.h5"), "--original", model, "--labeler", labeler, "--direction",
        p("direction.h5"),
        "--count", "1000", "--walk", "0,1,2,3", "--json", p("attack.json"),
      ])
    let evaluation = try JSONDecoder().decode(
      EvaluationReport.self, from: Data(contentsOf: URL(fileURLWithPath: p("eval.json"))))
    let attack = try JSONDecoder().decode(
      AttackReport.self, from: Data(contentsOf: URL(fileURLWithPath: p("attack.json"))))
    print(
      """

      demo: forget \(feature == "digit8" ? "digit 8" : "the thickest 10 % of strokes") — \(steps) steps on \(ranks) rank(s), \
      evaluated on \(count) fresh latents
      \(EvaluationTable.render(evaluation))
      \(EvaluationTable.render(attack))
      """)
    printError(
      String(
        format: "\ndemo finished in %@; everything is in %@ (original-vs-unlearned.png shows f left, g right)",
        Progress.clock(Date().timeIntervalSince(start)), out))
  })
