import Foundation
import TestSupport
import Testing

/// Runs the `distributed-check` executable under `mpirun` and checks exit codes and output.
///
/// `swift test` builds every product of the package, so the executable sits next to the test binary;
/// if it is missing (e.g. a test binary copied elsewhere), these tests fail with the command to build it.
@Suite("MPI jobs", .serialized)
struct MPIJobTests {
  @Test func allreduce() throws {
    let job = try MPIJob.run(["allreduce"], ranks: 2)
    #expect(job.status == 0, "\(job)")
    for rank in 0..<2 { #expect(job.stdout.contains("rank \(rank)/2 MPICommunicator allreduce ok"), "\(job)") }
  }

  @Test func bucketsOverlapBackward() throws {
    let job = try MPIJob.run(["buckets"], ranks: 2)
    #expect(job.status == 0, "\(job)")
    for rank in 0..<2 { #expect(job.stdout.contains("rank \(rank)/2 MPICommunicator buckets ok"), "\(job)") }
  }

  @Test func agree() throws {
    let job = try MPIJob.run(["agree"], ranks: 3)
    #expect(job.status == 0, "\(job)")
    for rank in 0..<3 { #expect(job.stdout.contains("rank \(rank)/3 MPICommunicator agree ok"), "\(job)") }
  }

  @Test func withoutMPIRunItIsOneLocalRank() throws {
    for check in ["allreduce", "buckets", "agree"] {
      let job = try MPIJob.run([check], ranks: nil)
      #expect(job.status == 0, "\(job)")
      #expect(job.stdout.contains("rank 0/1 LocalCommunicator \(check) ok"), "\(job)")
    }
  }

  @Test func abortOnOneRankEndsTheJob() throws {
    let job = try MPIJob.run(["abort-on-rank", "1"], ranks: 2)
    #expect(job.status != 0, "\(job)")
    #expect(job.stderr.contains("unlearn: rank 1: deliberate abort requested by distributed-check"), "\(job)")
    #expect(job.seconds < 20, "\(job)")
  }

  @Test func watchdogEndsAStalledCollective() throws {
    let job = try MPIJob.run(["stall", "3"], ranks: 2)
    #expect(job.status != 0, "\(job)")
    #expect(job.stderr.contains("unlearn: rank 0: stalled for 3."), "\(job)")
    #expect(job.stderr.contains(" s in stall-check allreduce at step 7; aborting"), "\(job)")
    #expect(job.seconds >= 3 && job.seconds < 30, "\(job)")
  }

  @Test func usageErrorsExit64() throws {
    let job = try MPIJob.run(["no-such-check"], ranks: nil)
    #expect(job.status == 64, "\(job)")
    #expect(job.stderr.hasPrefix("Error: unknown subcommand 'no-such-check'"), "\(job)")
  }
}

/// Runs `distributed-check` (alone or under `mpirun -np ranks`) with a 60 s hard limit.
enum MPIJob {
  static func run(_ arguments: [String], ranks: Int?) throws -> Job {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let job = try Job.run(
      try Job.executable("distributed-check", packageRoot: root), arguments, ranks: ranks, timeLimit: 60)
    #expect(!job.timedOut, "\(job)")
    return job
  }
}
