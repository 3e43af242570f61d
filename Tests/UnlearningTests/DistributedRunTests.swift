import Foundation
import IO
import Models
import Tensor
import TestSupport
import Testing

@testable import Unlearning

/// End-to-end runs of the `unlearn` executable, alone and under `mpirun -np 2` (DESIGN.md §2: 1 and N ranks
/// give the same latents, routing and weights; a checkpoint written by N ranks resumes on M).
@Suite(.serialized) struct DistributedRunTests {
  static func unlearn(_ arguments: [String], ranks: Int? = nil, timeLimit: Double = 180) throws -> Job {
    let job = try Job.run(
      try Job.executable("unlearn", packageRoot: repositoryRoot), arguments, ranks: ranks, timeLimit: timeLimit)
    #expect(!job.timedOut, "\(job)")
    return job
  }

  /// Largest |a − b| relative to max |b| over every tensor of the two files' /generator.
  static func generatorDifference(_ a: String, _ b: String) throws -> (Float, String) {
    let ga = try ModelFile.read(a).groups["generator"]!, gb = try ModelFile.read(b).groups["generator"]!
    #expect(Set(ga.keys) == Set(gb.keys))
    var worst: (Float, String) = (0, "")
    for (k, ta) in ga {
      let tb = gb[k]!
      var scale: Float = 1e-12, diff: Float = 0
      for i in 0..<tb.count { scale = max(scale, abs(tb[i])); diff = max(diff, abs(ta[i] - tb[i])) }
      if diff / scale > worst.0 { worst = (diff / scale, k) }
    }
    return worst
  }

  static func metrics(_ path: String) throws -> [[String: Double]] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
      (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]).compactMapValues {
        ($0 as? NSNumber)?.doubleValue
      }
    }
  }

  func trainArguments(
    _ files: (model: String, direction: String), out: String, steps: Int, learningRate: String = "1e-3",
    extra: [String] = []
  ) -> [String] {
    [
      "train", "--model", files.model, "--direction", files.direction, "--out", out, "--steps", String(steps),
      "--global-batch", "8", "--learning-rate", learningRate, "--log-every", "1", "--checkpoint-every", "5",
    ] + extra
  }

  /// Different rank counts sum gradients in a different order, so weights agree to float tolerance, not
  /// bitwise. (At 10× the default learning rate the tiny model's trajectories separate after ~10 steps:
  /// Adam normalises away the scale of rounding-level gradient differences.)
  /// Both routings: the paper's (by projection) and the labeler's (each latent judged on its own image).
  @Test(arguments: ["projection", "labeler"])
  func oneAndTwoRanksTrainTheSameModel(routing: String) throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    var extra: [String] = []
    if routing == "labeler" {
      let cut = try LabelerRoutingTests.medianAreaOfFirstBatch()
      extra = ["--routing", "labeler", "--router-labeler", "attribute:area:min=\(cut)"]
    }
    let one = try Self.unlearn(trainArguments(files, out: dir + "/one", steps: 20, learningRate: "1e-4", extra: extra))
    #expect(one.status == 0, "\(one)")
    let two = try Self.unlearn(
      trainArguments(files, out: dir + "/two", steps: 20, learningRate: "1e-4", extra: extra), ranks: 2)
    #expect(two.status == 0, "\(two)")
    let (diff, key) = try Self.generatorDifference(dir + "/two/latest.h5", dir + "/one/latest.h5")
    #expect(diff < 1e-4, "weights differ by \(diff) (relative) in \(key)")
    let m1 = try Self.metrics(dir + "/one/metrics.jsonl"), m2 = try Self.metrics(dir + "/two/metrics.jsonl")
    #expect(m1.count == 20 && m2.count == 20)
    for (a, b) in zip(m1, m2) {
      #expect(a["fraction_positive"] == b["fraction_positive"], "same routing at step \(a["step"] ?? -1)")
      #expect(
        abs(a["loss"]! - b["loss"]!) <= 1e-6 + 1e-4 * abs(a["loss"]!),
        "loss at step \(a["step"] ?? -1): \(a["loss"]!) vs \(b["loss"]!)")
    }
    let h = try Checkpoint.header(dir + "/two/latest.h5")
    #expect(h.worldSizeAtSave == 2 && h.step == 20)
  }

  @Test func twoRankCheckpointResumesOnOneRank() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    let straight = try Self.unlearn(trainArguments(files, out: dir + "/straight", steps: 12))
    #expect(straight.status == 0, "\(straight)")
    let first = try Self.unlearn(trainArguments(files, out: dir + "/split", steps: 6), ranks: 2)
    #expect(first.status == 0, "\(first)")
    let second = try Self.unlearn(
      trainArguments(files, out: dir + "/split", steps: 12, extra: ["--resume", dir + "/split/latest.h5"]))
    #expect(second.status == 0, "\(second)")
    #expect(
      second.stderr.contains("resumed") && second.stderr.contains("step 6")
        && second.stderr.contains("saved by 2 rank(s)"), "\(second.stderr)")
    let (diff, key) = try Self.generatorDifference(dir + "/split/latest.h5", dir + "/straight/latest.h5")
    #expect(diff < 1e-4, "weights differ by \(diff) in \(key)")
    #expect(try Self.metrics(dir + "/split/metrics.jsonl").map { $0["step"]! } == (1...12).map(Double.init))
  }

  @Test func resumeOnTheSameRanksIsExact() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    #expect(try Self.unlearn(trainArguments(files, out: dir + "/straight", steps: 10), ranks: 2).status == 0)
    #expect(try Self.unlearn(trainArguments(files, out: dir + "/split", steps: 5), ranks: 2).status == 0)
    let resumed = try Self.unlearn(
      trainArguments(files, out: dir + "/split", steps: 10, extra: ["--resume", dir + "/split/latest.h5"]), ranks: 2)
    #expect(resumed.status == 0, "\(resumed)")
    let (diff, key) = try Self.generatorDifference(dir + "/split/latest.h5", dir + "/straight/latest.h5")
    #expect(
      diff == 0, "an interrupted run must end exactly where the uninterrupted one does; \(key) differs by \(diff)")
  }

  @Test(arguments: ["gan", "classifier"])
  func pretrainingIsRankInvariant(kind: String) throws {
    let dir = temporaryFolder(kind)
    let mnist = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/mnist").path
    let arch =
      kind == "gan"
      ? #"{"family":"dcgan","latent_dim":8,"channels":1,"base_size":7,"widths":[8,4]}"#
      : #"{"family":"classifier","channels":1,"image_size":28,"widths":[4,8],"hidden":16,"classes":10}"#
    func args(_ out: String) -> [String] {
      [
        "pretrain", kind, "--images", mnist + "/t10k-images-idx3-ubyte.gz", "--labels",
        mnist + "/t10k-labels-idx1-ubyte.gz",
        "--architecture", arch, "--out", out, "--steps", "4", "--global-batch", "16", "--train-count", "200",
        "--log-every", "1",
        "--learning-rate", "1e-3",
      ]
    }
    let one = try Self.unlearn(args(dir + "/one"))
    #expect(one.status == 0, "\(one)")
    let two = try Self.unlearn(args(dir + "/two"), ranks: 2)
    #expect(two.status == 0, "\(two)")
    let a = try ModelFile.read(dir + "/one/model.h5"), b = try ModelFile.read(dir + "/two/model.h5")
    for (group, tensors) in a.groups {
      for (key, ta) in tensors {
        let tb = b.groups[group]![key]!
        var scale: Float = 1e-6, diff: Float = 0
        for i in 0..<ta.count { scale = max(scale, abs(ta[i])); diff = max(diff, abs(ta[i] - tb[i])) }
        #expect(diff <= 2e-4 * scale, "\(group)/\(key): 1 vs 2 ranks differ by \(diff) (scale \(scale))")
      }
    }
  }
}

extension DistributedRunTests {
  /// collect, eval and attack spread their rows over the ranks; the results must not depend on how many.
  @Test func evaluationIsRankInvariant() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    let classifierArch = Architecture(
      family: "classifier", channels: 1, widths: [4, 8], imageSize: 28, hidden: 16, classes: 10)
    let c = ModelIO.build(classifierArch, seed: 5)
    try ModelIO.modelFile(architecture: classifierArch, networks: c.networks).write(to: dir + "/classifier.h5")
    #expect(try Self.unlearn(trainArguments(files, out: dir + "/run", steps: 5)).status == 0)
    for ranks in [1, 2] {
      let job = try Self.unlearn(
        [
          "eval", "--model", dir + "/run/latest.h5", "--original", files.model, "--labeler", "attribute:area:top=0.3",
          "--count", "60", "--seed", "4", "--classifier", dir + "/classifier.h5", "--direction", files.direction,
          "--json", dir + "/eval\(ranks).json",
        ], ranks: ranks == 1 ? nil : 2)
      #expect(job.status == 0, "\(job)")
      let collect = try Self.unlearn(
        [
          "collect", "--model", files.model, "--count", "40", "--seed", "2", "--labeler",
          "classifier:\(dir)/classifier.h5:class=3",
          "--out", dir + "/collection\(ranks).h5",
        ], ranks: ranks == 1 ? nil : 2)
      #expect(collect.status == 0, "\(collect)")
    }
    let e1 =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/eval1.json")))
      as! [String: Any]
    let e2 =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/eval2.json")))
      as! [String: Any]
    #expect(Set(e1.keys) == Set(e2.keys))
    for (k, v) in e1 {
      if let a = (v as? NSNumber)?.doubleValue, let b = (e2[k] as? NSNumber)?.doubleValue {
        #expect(abs(a - b) <= 1e-6 + 1e-4 * abs(a), "\(k): \(a) (1 rank) vs \(b) (2 ranks)")
      }
    }
    for key in ["target_ratio", "target_ratio_original", "preservation_l1", "fid", "fid_original", "inception_score"] {
      #expect(e1[key] != nil, "\(key) reported")
    }
    let c1 = try Collection.read(dir + "/collection1.h5"), c2 = try Collection.read(dir + "/collection2.h5")
    #expect(c1.z.array == c2.z.array && c1.labels == c2.labels)
  }

  @Test func usageErrorsExitWith64AndNameTheFlag() throws {
    let bad = try Self.unlearn(["train", "--stepz", "3"])
    #expect(bad.status == 64 && bad.stderr.contains("--stepz") && bad.stderr.contains("--steps"), "\(bad)")
    let missing = try Self.unlearn([
      "eval", "--model", "/nonexistent/m.h5", "--original", "x", "--labeler", "attribute:area:top=0.1", "--json",
      "/tmp/x.json",
    ])
    #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/m.h5"), "\(missing)")
    let help = try Self.unlearn(["collect", "--help"])
    #expect(
      help.status == 0 && help.stdout.contains("USAGE: unlearn collect") && help.stdout.contains("--labeler <spec>"))
  }
}

extension DistributedRunTests {
  /// docs/CLI.md is the tool's own help text; regenerate it with tools/gen-cli-docs.sh after changing options.
  @Test func cliReferenceMatchesHelp() throws {
    let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/CLI.md"), encoding: .utf8)
    for c in [
      "sample", "inspect", "collect", "direction", "train", "eval", "attack", "pretrain", "fid", "bench", "demo",
    ] {
      let help = try Self.unlearn([c, "--help"])
      #expect(help.status == 0)
      #expect(
        doc.contains(help.stdout.trimmingCharacters(in: .newlines)),
        "docs/CLI.md is stale for '\(c)': run bash tools/gen-cli-docs.sh")
    }
  }
}

extension DistributedRunTests {
  /// Pretraining checkpoints resume exactly: 2 + 2 steps equal 4 steps, bit for bit (GAN: two optimisers,
  /// BatchNorm statistics, the data shuffle and the noise stream all continue where they stopped).
  @Test func pretrainingResumesExactly() throws {
    let dir = temporaryFolder()
    let mnist = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/mnist").path
    func args(_ out: String, steps: Int) -> [String] {
      [
        "pretrain", "gan", "--images", mnist + "/t10k-images-idx3-ubyte.gz", "--labels",
        mnist + "/t10k-labels-idx1-ubyte.gz",
        "--architecture", #"{"family":"dcgan","latent_dim":8,"channels":1,"base_size":7,"widths":[8,4]}"#, "--out", out,
        "--steps", String(steps), "--global-batch", "16", "--train-count", "40", "--log-every", "1",
        "--checkpoint-every", "2",
      ]
    }
    #expect(try Self.unlearn(args(dir + "/straight", steps: 6)).status == 0)
    #expect(try Self.unlearn(args(dir + "/split", steps: 3)).status == 0)
    let resumed = try Self.unlearn(args(dir + "/split", steps: 6) + ["--resume", dir + "/split/latest.h5"])
    #expect(resumed.status == 0, "\(resumed)")
    let a = try ModelFile.read(dir + "/straight/latest.h5"), b = try ModelFile.read(dir + "/split/latest.h5")
    for (group, tensors) in a.groups {
      for (key, t) in tensors {
        #expect(t.array == b.groups[group]![key]!.array, "\(group)/\(key) differs after resume")
      }
    }
  }
}

extension DistributedRunTests {
  /// The paper's implicit feedback: a numbered contact sheet first, then the person's picks label the
  /// same latents (the seed fixes them).
  @Test func personPicksFromTheContactSheet() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    let args = [
      "collect", "--model", files.model, "--count", "30", "--seed", "4", "--labeler", "ids:\(dir)/picks.txt", "--out",
      dir + "/c.h5",
    ]
    let first = try Self.unlearn(args + ["--sheet", dir + "/sheet.png"])
    #expect(first.status == 0 && first.stdout.contains("write the numbers"), "\(first)")
    #expect(
      FileManager.default.fileExists(atPath: dir + "/sheet.png")
        && !FileManager.default.fileExists(atPath: dir + "/c.h5"))
    try "1, 7\n29 # last\n".write(toFile: dir + "/picks.txt", atomically: true, encoding: .utf8)
    let second = try Self.unlearn(args)
    #expect(second.status == 0, "\(second)")
    let c = try Collection.read(dir + "/c.h5")
    #expect((0..<30).filter { c.labels[$0] == 1 } == [1, 7, 29])
    try "31\n".write(toFile: dir + "/picks.txt", atomically: true, encoding: .utf8)
    let bad = try Self.unlearn(args)
    #expect(bad.status != 0 && bad.stderr.contains("picks.txt") && bad.stderr.contains("\"31\""), "\(bad)")
  }
}
