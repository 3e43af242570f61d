import Foundation
import IO
import Tensor
import TestSupport
import Testing

@testable import Unlearning

/// Helpers of the reliability tests (docs/RELIABILITY.md): running `unlearn`, checking that a failure is a
/// clean exit with one clear line, and writing broken inputs.
enum Reliability {
  static var binary: URL { get throws { try Job.executable("unlearn", packageRoot: repositoryRoot) } }

  /// Runs `unlearn arguments` (under `mpirun -np ranks` when given) with a hard time limit.
  static func unlearn(
    _ arguments: [String], ranks: Int? = nil, timeLimit: Double = 60, environment: [String: String] = [:]
  ) throws -> Job {
    try Job.run(try binary, arguments, ranks: ranks, timeLimit: timeLimit, environment: environment)
  }

  /// Expects a failed run that exited by itself (status 1 or 64, not a signal or a trap) and whose first
  /// line on standard error is an error naming every one of `mentions`.
  static func expectCleanFailure(
    _ job: Job, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(!job.timedOut, "\(job)", sourceLocation: sourceLocation)
    #expect([1, 64].contains(job.status), "expected exit status 1 or 64: \(job)", sourceLocation: sourceLocation)
    let first = job.stderr.split(separator: "\n").first.map(String.init) ?? ""
    #expect(first.lowercased().contains("error"), "first line is not an error: \(job)", sourceLocation: sourceLocation)
    for m in mentions {
      #expect(first.contains(m), "first line does not mention \"\(m)\": \(first)", sourceLocation: sourceLocation)
    }
    #expect(
      !job.stderr.contains("Fatal error") && !job.stderr.contains("Program crashed"), "\(job)",
      sourceLocation: sourceLocation)
  }

  /// Files in `folder` (recursively) whose name marks a temporary or partial output.
  static func leftovers(in folder: String) -> [String] {
    let all = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []
    return all.filter { $0.contains(".tmp-") || $0.contains(".unlearn-probe-") }
  }

  /// `train` arguments for the tiny model with checkpoints and metrics every step.
  static func train(
    _ files: (model: String, direction: String), out: String, steps: Int, batch: Int = 8, extra: [String] = []
  ) -> [String] {
    [
      "train", "--model", files.model, "--direction", files.direction, "--out", out, "--steps", String(steps),
      "--global-batch", String(batch), "--learning-rate", "1e-3", "--log-every", "1",
    ] + extra
  }

  /// The model file of `files`, with `edit` applied to its /generator tensors, written to `path`.
  static func editedModel(_ model: String, to path: String, _ edit: (inout [String: Tensor]) -> Void) throws {
    var m = try ModelFile.read(model)
    edit(&m.groups["generator"]!)
    try m.write(to: path)
  }

  /// A direction file with the given values and threshold (attributes optional).
  static func direction(_ values: [Float], threshold: Double? = 0.1, to path: String) throws {
    let f = try HDF5File.create(path)
    try f.write(values, shape: [values.count], to: "/direction")
    if let threshold { try f.setAttribute("threshold", threshold) }
    try f.commit()
  }

  /// IDX bytes: `00 00 08 <rank>`, big-endian dimensions, then the data.
  static func idx(dims: [Int], data: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 8, UInt8(dims.count)]
    for d in dims { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + data
  }

  /// A small image set (count 28×28 images) and its labels, as IDX files in `folder`.
  static func idxFiles(in folder: String, count: Int = 64) throws -> (images: String, labels: String) {
    var rng = PhiloxGenerator(seed: 5)
    let pixels = (0..<(count * 28 * 28)).map { _ in UInt8(min(255, max(0, 128 + 60 * rng.nextNormal()))) }
    try Data(idx(dims: [count, 28, 28], data: pixels)).write(to: URL(fileURLWithPath: folder + "/images.idx"))
    try Data(idx(dims: [count], data: (0..<count).map { UInt8($0 % 10) })).write(
      to: URL(fileURLWithPath: folder + "/labels.idx"))
    return (folder + "/images.idx", folder + "/labels.idx")
  }

  /// Byte offset of the first occurrence of `needle` in `haystack`.
  static func offset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
      if Array(haystack[i..<(i + needle.count)]) == needle { return i }
    }
    return nil
  }
}

/// A running `unlearn` job (under `mpirun` when `ranks` is given) that a test can signal while it runs:
/// output goes to files, and the job is killed (mpirun and its ranks) when the object goes away.
final class BackgroundJob {
  let process = Process()
  let command: [String]
  private let scratch: URL
  private let started = Date()
  private let done = DispatchSemaphore(value: 0)
  private var finished = false

  init(_ arguments: [String], ranks: Int?, environment extra: [String: String] = [:]) throws {
    let launcher =
      ranks.map { ["/usr/bin/env", "mpirun", "-np", "\($0)", "--oversubscribe", "--bind-to", "none"] } ?? []
    command = launcher + [try Reliability.binary.path] + arguments
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var environment = ProcessInfo.processInfo.environment
    for variable in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "UNLEARN_WATCHDOG_SECONDS"] {
      environment[variable] = nil
    }
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"
    for (k, v) in extra { environment[k] = v }
    process.environment = environment
    scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bgjob-\(UUID())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: scratch.path + "/stdout", contents: nil)
    _ = FileManager.default.createFile(atPath: scratch.path + "/stderr", contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: scratch.appendingPathComponent("stdout"))
    process.standardError = try FileHandle(forWritingTo: scratch.appendingPathComponent("stderr"))
    process.standardInput = FileHandle.nullDevice
    process.terminationHandler = { [done] _ in done.signal() }
    try process.run()
  }

  deinit {
    if process.isRunning { killAll() }
    try? FileManager.default.removeItem(at: scratch)
  }

  var pid: Int32 { process.processIdentifier }
  var stdout: String { (try? String(contentsOf: scratch.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOf: scratch.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }
  var seconds: Double { Date().timeIntervalSince(started) }

  /// Polls `condition` every 50 ms until it holds (true) or `timeout` seconds pass or the job ends (false).
  func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
      if condition() { return true }
      if !process.isRunning { return condition() }
      usleep(50_000)
    }
    return false
  }

  /// Waits for the job to end by itself; nil if it is still running after `timeout` seconds.
  func wait(timeout: Double) -> Int32? {
    if finished || done.wait(timeout: .now() + timeout) == .success {
      finished = true
      return process.terminationStatus
    }
    return nil
  }

  /// The rank processes: mpirun's children by their OMPI_COMM_WORLD_RANK (this job alone: itself as 0).
  func ranks() -> [Int: Int32] {
    guard command.contains("mpirun") else { return [0: pid] }
    var out: [Int: Int32] = [:]
    for child in Self.children(of: pid) {
      guard let env = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/environ")) else { continue }
      for entry in env.split(separator: 0) {
        let s = String(decoding: entry, as: UTF8.self)
        if s.hasPrefix("OMPI_COMM_WORLD_RANK="), let r = Int(s.dropFirst(21)) { out[r] = child }
      }
    }
    return out
  }

  /// Sends `signal` to mpirun and every rank at once (a job killed as a whole, e.g. by a scheduler) and
  /// waits (up to 10 s) until they are gone.
  func killAll(_ signal: Int32 = SIGKILL) {
    let victims = [pid] + Self.children(of: pid)
    for p in victims { kill(p, signal) }
    _ = wait(timeout: 10)
    let end = Date().addingTimeInterval(10)
    while Date() < end, victims.contains(where: { kill($0, 0) == 0 }) { usleep(20_000) }
  }

  /// Process ids whose parent is `parent` (from /proc).
  static func children(of parent: Int32) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { Int32($0) }.filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      return fields.count > 2 && Int32(fields[1]) == parent
    }
  }

  var description: String {
    "\(command.joined(separator: " ")) (\(String(format: "%.1f", seconds)) s)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
  }
}
