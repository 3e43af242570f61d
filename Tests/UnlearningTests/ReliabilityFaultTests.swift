import Distributed
import Foundation
import IO
import TestSupport
import Testing

@testable import Unlearning

/// Faults under real `mpirun -np 2` jobs (docs/RELIABILITY.md, "Faults"): a rank killed, the job killed
/// while writing a checkpoint, NaN on one rank, a stalled rank, an uneven batch split, rank-0-only writes.
/// Every job has a hard time limit and ends by itself; the measured times are printed.
@Suite(.serialized) struct ReliabilityFaultTests {
  /// A folder with the tiny model and direction; removed when the test ends.
  final class Setup {
    let dir: String
    let files: (model: String, direction: String)
    var out: String { dir + "/run" }
    var checkpoint: String { out + "/latest.h5" }
    init(_ name: String = #function) throws {
      dir = temporaryFolder(name)
      files = try writeTinyRun(in: dir)
    }
    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// The step of the checkpoint in `out`, if one is there and loads.
    var checkpointStep: Int? { try? Checkpoint.header(checkpoint).step }
  }

  /// A long run on 2 ranks (it never finishes by itself within a test) checkpointing every 2 steps.
  static func longRun(_ s: Setup, extra: [String] = [], environment: [String: String] = [:]) throws -> BackgroundJob {
    try BackgroundJob(
      Reliability.train(
        s.files, out: s.out, steps: 1_000_000, extra: ["--checkpoint-every", "2", "--log-every", "1000"] + extra),
      ranks: 2, environment: environment)
  }

  /// The checkpoint loads as a model and into a trainer (weights, Adam state, metrics) at `step`.
  static func expectValidCheckpoint(_ s: Setup, step: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let header = try Checkpoint.header(s.checkpoint)
    #expect(header.step == step, sourceLocation: sourceLocation)
    var config = TrainConfig()
    (config.model, config.direction, config.out, config.globalBatch) = (s.files.model, s.files.direction, s.dir, 8)
    let trainer = try UnlearningTrainer(
      config: config, source: try ModelIO.load(s.files.model), direction: try FeatureDirection.read(s.files.direction),
      communicator: LocalCommunicator())
    try trainer.restore(from: s.checkpoint)
    #expect(trainer.step == step && trainer.history.count == step, sourceLocation: sourceLocation)
  }

  /// Resumes the run in `s` to `steps` on 2 ranks and expects it to finish there.
  static func expectResumes(
    _ s: Setup, from step: Int, to steps: Int, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let job = try Reliability.unlearn(
      Reliability.train(
        s.files, out: s.out, steps: steps, extra: ["--resume", s.checkpoint, "--checkpoint-every", "2"]), ranks: 2,
      timeLimit: 120)
    #expect(job.status == 0 && !job.timedOut, "\(job)", sourceLocation: sourceLocation)
    #expect(
      job.stderr.contains("resumed \(s.checkpoint) at step \(step)"), "\(job.stderr)", sourceLocation: sourceLocation)
    #expect(s.checkpointStep == steps, sourceLocation: sourceLocation)
  }

  // MARK: A rank killed

  @Test(arguments: [1, 0])
  func rankKilledWithSIGKILL(rank: Int) throws {
    let s = try Setup("killrank\(rank)")
    let job = try Self.longRun(s)
    #expect(job.waitUntil(timeout: 60) { (s.checkpointStep ?? 0) >= 4 }, "no checkpoint: \(job.description)")
    let victim = try #require(job.ranks()[rank], "rank \(rank) not found: \(job.description)")
    let killed = Date()
    kill(victim, SIGKILL)
    let status = job.wait(timeout: 30)
    let seconds = Date().timeIntervalSince(killed)
    print(
      "rank \(rank) SIGKILLed: mpirun ended after \(String(format: "%.1f", seconds)) s with status \(status.map(String.init) ?? "none")"
    )
    #expect(status != nil && status != 0, "mpirun did not end within 30 s of the kill: \(job.description)")
    // The last checkpoint is intact (the kill may have hit a write: the previous one stays), and resumes.
    let step = try #require(s.checkpointStep, "no loadable checkpoint after the kill")
    try Self.expectValidCheckpoint(s, step: step)
    try Self.expectResumes(s, from: step, to: step + 4)
  }

  // MARK: The job killed during a checkpoint write

  @Test func jobKilledWhileWritingACheckpointKeepsThePreviousOne() throws {
    let s = try Setup()
    let job = try Self.longRun(s, environment: ["UNLEARN_TEST_PAUSE_IN_CHECKPOINT": "6"])
    #expect(job.waitUntil(timeout: 60) { job.stderr.contains("paused writing") }, "\(job.description)")
    let temporaries = Reliability.leftovers(in: s.out).filter { $0.hasPrefix("latest.h5.tmp-") }
    #expect(temporaries.count == 1, "the checkpoint being written: \(temporaries)")
    job.killAll(SIGKILL)
    #expect(job.wait(timeout: 10) != nil)
    // latest.h5 is still the step-4 checkpoint, complete; the half-done temporary is not it.
    try Self.expectValidCheckpoint(s, step: 4)
    #expect(Reliability.leftovers(in: s.out) == temporaries)
    try Self.expectResumes(s, from: 4, to: 8)
    #expect(Reliability.leftovers(in: s.out).isEmpty, "the resumed run removes the dead writer's temporary")
  }

  // MARK: NaN on one rank

  @Test func nanOnOneRankStopsEveryRankNamingTheStep() throws {
    let s = try Setup()
    let job = try Reliability.unlearn(
      Reliability.train(s.files, out: s.out, steps: 8, extra: ["--checkpoint-every", "2"]), ranks: 2, timeLimit: 60,
      environment: ["UNLEARN_TEST_INJECT_NAN": "1:5"])
    print("NaN on rank 1 at step 5 (on_nonfinite = stop): job ended after \(String(format: "%.1f", job.seconds)) s")
    #expect(!job.timedOut && job.status != 0, "\(job)")
    #expect(job.stderr.contains("step 5: non-finite loss or gradient; stopping"), "\(job.stderr)")
    try Self.expectValidCheckpoint(s, step: 4)
  }

  /// Rank 1's NaN must make *both* ranks skip step 3: the result equals a 1-rank run whose only rank
  /// skips step 3 (had rank 0 stepped alone, the replicas would differ and so would the checkpoint).
  @Test func nanOnOneRankIsSkippedByEveryRank() throws {
    let s = try Setup()
    let extra = ["--on-nonfinite", "skip", "--checkpoint-every", "0"]
    let two = try Reliability.unlearn(
      Reliability.train(s.files, out: s.dir + "/two", steps: 6, extra: extra), ranks: 2,
      environment: ["UNLEARN_TEST_INJECT_NAN": "1:3"])
    #expect(two.status == 0, "\(two)")
    #expect(two.stderr.contains("step 3: non-finite loss or gradient on some rank; step skipped"), "\(two.stderr)")
    let one = try Reliability.unlearn(
      Reliability.train(s.files, out: s.dir + "/one", steps: 6, extra: extra),
      environment: ["UNLEARN_TEST_INJECT_NAN": "0:3"])
    #expect(one.status == 0, "\(one)")
    let (diff, key) = try DistributedRunTests.generatorDifference(s.dir + "/two/latest.h5", s.dir + "/one/latest.h5")
    #expect(diff < 1e-4, "2 ranks differ from 1 rank by \(diff) in \(key)")
    let lines = try String(contentsOfFile: s.dir + "/two/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 6)
    let third = try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any]
    #expect(third?["skipped"] as? Bool == true && third?["loss"] as? String == "nan", "\(lines[2])")
    let h = try Checkpoint.header(s.dir + "/two/latest.h5")
    #expect(h.step == 6)
  }

  // MARK: A stalled collective is named

  /// Rank 1 stopped (SIGSTOP) mid-run: rank 0 waits in a collective until its watchdog names the phase
  /// and step and ends the job.
  @Test func stalledRankDuringTrainingIsNamed() throws {
    let s = try Setup()
    let job = try Self.longRun(s, extra: ["--watchdog-seconds", "3"])
    #expect(job.waitUntil(timeout: 60) { (s.checkpointStep ?? 0) >= 2 }, "\(job.description)")
    let victim = try #require(job.ranks()[1])
    let stopped = Date()
    kill(victim, SIGSTOP)
    defer { kill(victim, SIGKILL) }
    let status = job.wait(timeout: 40)
    let seconds = Date().timeIntervalSince(stopped)
    print("rank 1 stopped during training: job ended after \(String(format: "%.1f", seconds)) s (watchdog 3 s)")
    #expect(status != nil && status != 0, "\(job.description)")
    // Rank 0 reports (rank 1 is stopped; it may report too once mpirun continues it to kill it).
    let line =
      job.stderr.split(separator: "\n").first { $0.hasPrefix("unlearn: rank 0: stalled for ") }.map(String.init) ?? ""
    let waited = Double(line.dropFirst("unlearn: rank 0: stalled for ".count).prefix { $0 != " " }) ?? 0
    #expect(waited >= 3 && waited < 30, "\(job.description)")
    #expect(
      ["gradient allreduce", "metrics allreduce", "checkpoint agreement"].contains {
        line.contains(" in \($0) at step ")
      }, "\(line)")
  }

  @Test func stalledRankDuringCollectIsNamed() throws {
    let s = try Setup()
    let job = try BackgroundJob(
      [
        "collect", "--model", s.files.model, "--count", "60000", "--labeler", "attribute:area:top=0.5", "--out",
        s.dir + "/c.h5",
      ],
      ranks: 2, environment: ["UNLEARN_WATCHDOG_SECONDS": "3"])
    #expect(job.waitUntil(timeout: 60) { job.stderr.contains("collect ") }, "\(job.description)")
    let victim = try #require(job.ranks()[1])
    let stopped = Date()
    kill(victim, SIGSTOP)
    defer { kill(victim, SIGKILL) }
    let status = job.wait(timeout: 60)
    print(
      "rank 1 stopped during collect: job ended after \(String(format: "%.1f", Date().timeIntervalSince(stopped))) s (watchdog 3 s)"
    )
    #expect(status != nil && status != 0, "\(job.description)")
    #expect(job.stderr.contains("unlearn: rank 0: stalled for "), "\(job.description)")
    #expect(job.stderr.contains(" in distributed rows allreduce; aborting"), "\(job.description)")
    #expect(!FileManager.default.fileExists(atPath: s.dir + "/c.h5"))
  }

  // MARK: Uneven batch, rank-0-only writes

  /// B = 7 on 2 ranks is a documented uneven contiguous split (3 + 4 latents; see Sharding.swift): the
  /// result equals the 1-rank run.
  @Test func unevenGlobalBatchIsRankInvariant() throws {
    #expect(shard(7, rank: 0, size: 2) == 0..<3 && shard(7, rank: 1, size: 2) == 3..<7)
    for size in 1...9 {
      let slices = (0..<size).map { shard(7, rank: $0, size: size) }
      #expect(
        slices.map(\.count).reduce(0, +) == 7
          && zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
    }
    let s = try Setup()
    let one = try Reliability.unlearn(Reliability.train(s.files, out: s.dir + "/one", steps: 10, batch: 7))
    #expect(one.status == 0, "\(one)")
    let two = try Reliability.unlearn(Reliability.train(s.files, out: s.dir + "/two", steps: 10, batch: 7), ranks: 2)
    #expect(two.status == 0, "\(two)")
    let (diff, key) = try DistributedRunTests.generatorDifference(s.dir + "/two/latest.h5", s.dir + "/one/latest.h5")
    #expect(diff < 1e-4, "B = 7: 2 ranks differ from 1 rank by \(diff) in \(key)")
    let m1 = try DistributedRunTests.metrics(s.dir + "/one/metrics.jsonl"),
      m2 = try DistributedRunTests.metrics(s.dir + "/two/metrics.jsonl")
    #expect(m1.map { $0["fraction_positive"]! } == m2.map { $0["fraction_positive"]! })
    // More ranks than latents is an error naming the flag.
    let three = try Reliability.unlearn(Reliability.train(s.files, out: s.dir + "/three", steps: 1, batch: 2), ranks: 3)
    Reliability.expectCleanFailure(three, mentions: ["--global-batch", "2", "3 ranks"])
  }

  /// collect, direction and train on 2 ranks: files are created by rank 0 only (a rank > 0 creating one
  /// would fail: `HDF5File.creationAllowed` is off there), and the run succeeds.
  @Test func onlyRankZeroCreatesFiles() throws {
    let s = try Setup()
    let collect = try Reliability.unlearn(
      [
        "collect", "--model", s.files.model, "--count", "64", "--labeler", "attribute:area:top=0.5", "--out",
        s.dir + "/c.h5",
      ], ranks: 2)
    #expect(collect.status == 0, "\(collect)")
    let direction = try Reliability.unlearn(
      ["direction", "--collection", s.dir + "/c.h5", "--out", s.dir + "/d.h5"], ranks: 2)
    #expect(direction.status == 0, "\(direction)")
    let train = try Reliability.unlearn(
      Reliability.train((s.files.model, s.dir + "/d.h5"), out: s.out, steps: 2), ranks: 2)
    #expect(train.status == 0, "\(train)")
    #expect(s.checkpointStep == 2)
  }
}
