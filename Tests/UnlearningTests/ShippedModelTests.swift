import Foundation
import IO
import TestSupport
import Testing

@testable import Unlearning

/// The method on the shipped MNIST GAN (checkpoints/pretrained/), as a user runs it: a short unlearning run
/// must lower the fraction of generated eights, while the samples below the threshold barely change.
@Suite(.serialized) struct ShippedModelTests {
  static let pretrained = repositoryRoot.appendingPathComponent("checkpoints/pretrained").path

  @Test func shortRunLowersTheTargetRatio() throws {
    let dir = temporaryFolder()
    let gan = Self.pretrained + "/mnist-dcgan28.h5", classifier = Self.pretrained + "/mnist-classifier.h5"
    let labeler = "classifier:\(classifier):class=8"
    func run(_ args: [String], ranks: Int? = nil) throws -> Job {
      let job = try Job.run(
        try Job.executable("unlearn", packageRoot: repositoryRoot), args, ranks: ranks, timeLimit: 300)
      #expect(job.status == 0 && !job.timedOut, "\(job)")
      return job
    }
    _ = try run(
      ["collect", "--model", gan, "--count", "2000", "--seed", "0", "--labeler", labeler, "--out", dir + "/c.h5"],
      ranks: 2)
    _ = try run(["direction", "--collection", dir + "/c.h5", "--out", dir + "/d.h5"])
    _ = try run(
      [
        "train", "--model", gan, "--direction", dir + "/d.h5", "--out", dir + "/run", "--steps", "100",
        "--global-batch", "64",
      ], ranks: 2)
    _ = try run(
      [
        "eval", "--model", dir + "/run/latest.h5", "--original", gan, "--labeler", labeler, "--count", "2000", "--seed",
        "1",
        "--direction", dir + "/d.h5", "--json", dir + "/e.json",
      ], ranks: 2)
    let e = try JSONDecoder().decode(
      EvaluationReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/e.json")))
    #expect(e.targetRatioOriginal > 0.05, "the shipped GAN draws eights (\(e.targetRatioOriginal))")
    #expect(e.targetRatio < 0.75 * e.targetRatioOriginal, "target ratio \(e.targetRatioOriginal) → \(e.targetRatio)")
    #expect(e.preservationL1 < 0.05, "preservation L1 \(e.preservationL1)")
  }
}
