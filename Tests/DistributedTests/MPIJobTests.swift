import Foundation
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

/// One finished run of `distributed-check`.
struct MPIJob: CustomStringConvertible {
  var command: [String]
  var status: Int32
  var stdout: String
  var stderr: String
  var seconds: Double

  var description: String {
    "\(command.joined(separator: " ")) → status \(status) after \(String(format: "%.1f", seconds)) s\n"
      + "--- stdout\n\(stdout)--- stderr\n\(stderr)"
  }

  enum Failure: Error, CustomStringConvertible {
    case missingExecutable(searched: [String])
    case timedOut(MPIJob)

    var description: String {
      switch self {
      case .missingExecutable(let searched):
        "distributed-check not found (looked in \(searched.joined(separator: ", "))); "
          + "run `swift build --product distributed-check` first"
      case .timedOut(let job): "killed after the time limit: \(job)"
      }
    }
  }

  /// Hard limit for one job; the slowest check (the 3 s watchdog) needs well under this.
  static let timeLimit: Double = 60

  /// The built `distributed-check`: next to the running test binary (or up to three levels above it,
  /// for bundles), else in the package's `.build` of the same configuration.
  static func executable() throws -> URL {
    let fileManager = FileManager.default
    var directories: [URL] = []
    let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = testBinary.deletingLastPathComponent()
    for _ in 0..<4 {
      directories.append(directory)
      directory = directory.deletingLastPathComponent()
    }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let configuration = testBinary.path.contains("/release/") ? "release" : "debug"
    directories.append(packageRoot.appendingPathComponent(".build/\(configuration)"))
    for directory in directories {
      let candidate = directory.appendingPathComponent("distributed-check")
      if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw Failure.missingExecutable(searched: directories.map(\.path))
  }

  /// Runs the check with `arguments` under `mpirun -np ranks`, or directly when `ranks` is nil.
  static func run(_ arguments: [String], ranks: Int?) throws -> MPIJob {
    let check = try executable()
    let launcher: [String] = ranks.map { ["/usr/bin/env", "mpirun", "-np", "\($0)", "--oversubscribe"] } ?? []
    let command = launcher + [check.path] + arguments

    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var environment = ProcessInfo.processInfo.environment
    for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"] { environment[variable] = nil }
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    environment["UNLEARN_WATCHDOG_SECONDS"] = nil
    process.environment = environment

    // Output goes to files, so a chatty job can never block on a full pipe.
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("distributed-check-\(UUID())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout")
    let errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer {
      try? out.close()
      try? err.close()
    }
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice

    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    let start = Date()
    try process.run()
    var timedOut = false
    if done.wait(timeout: .now() + timeLimit) == .timedOut {
      timedOut = true
      process.terminate()  // mpirun forwards SIGTERM to its ranks
      if done.wait(timeout: .now() + 5) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        done.wait()
      }
    }
    let job = MPIJob(
      command: command, status: process.terminationStatus,
      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
      seconds: Date().timeIntervalSince(start))
    if timedOut { throw Failure.timedOut(job) }
    return job
  }
}
