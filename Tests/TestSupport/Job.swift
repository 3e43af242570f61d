import Foundation

/// A finished child process (optionally under `mpirun`), for tests that run the package's executables.
public struct Job: CustomStringConvertible {
  public var command: [String]
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public var seconds: Double
  public var timedOut: Bool

  public var description: String {
    "\(command.joined(separator: " ")) → status \(status) after \(String(format: "%.1f", seconds)) s\(timedOut ? " (killed: time limit)" : "")\n"
      + "--- stdout\n\(stdout)--- stderr\n\(stderr)"
  }

  public struct MissingExecutable: Error, CustomStringConvertible {
    public var name: String
    public var searched: [String]
    public var description: String {
      "\(name) not found (looked in \(searched.joined(separator: ", "))); run `swift build --product \(name)` first"
    }
  }

  /// A product of this package: next to the running test binary (or up to three levels above it, for
  /// bundles), else in the package's `.build` of the same configuration. `swift test` builds every product.
  public static func executable(_ name: String, packageRoot: URL) throws -> URL {
    var directories: [URL] = []
    let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = testBinary.deletingLastPathComponent()
    for _ in 0..<4 {
      directories.append(directory)
      directory = directory.deletingLastPathComponent()
    }
    let configuration = testBinary.path.contains("/release/") ? "release" : "debug"
    directories.append(packageRoot.appendingPathComponent(".build/\(configuration)"))
    for directory in directories {
      let candidate = directory.appendingPathComponent(name)
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw MissingExecutable(name: name, searched: directories.map(\.path))
  }

  /// Runs `executable arguments` under `mpirun -np ranks` (or directly when `ranks` is nil), with output
  /// in files (a chatty job never blocks on a pipe) and a hard time limit after which the job is killed.
  public static func run(
    _ executable: URL, _ arguments: [String], ranks: Int?, timeLimit: Double = 120,
    environment extra: [String: String] = [:],
    directory: String? = nil
  ) throws -> Job {
    let launcher: [String] =
      ranks.map { ["/usr/bin/env", "mpirun", "-np", "\($0)", "--oversubscribe", "--bind-to", "none"] } ?? []
    let command = launcher + [executable.path] + arguments
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var environment = ProcessInfo.processInfo.environment
    for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"] { environment[variable] = nil }
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    environment["UNLEARN_WATCHDOG_SECONDS"] = nil
    for (k, v) in extra { environment[k] = v }
    process.environment = environment
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }

    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("job-\(UUID())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
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
    return Job(
      command: command, status: process.terminationStatus,
      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "", seconds: Date().timeIntervalSince(start),
      timedOut: timedOut)
  }
}
