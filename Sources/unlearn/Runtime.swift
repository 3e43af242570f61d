import Distributed
import Foundation
import IO
import Tensor
import Unlearning

/// Process-wide state of a run: the communicator (started on first use) and rank-0 logging.
enum Runtime {
  private static var started: Communicator?

  /// MPI when launched by mpirun, else a single local rank. Also sets OpenBLAS threads per rank
  /// (cores ÷ ranks on this host) unless OPENBLAS_NUM_THREADS is set.
  ///
  /// Under MPI every blocking collective is timed by a watchdog (``WatchedCommunicator``;
  /// UNLEARN_WATCHDOG_SECONDS, default 120 s, until a run sets its own `watchdog_seconds`), and so is
  /// MPI's start-up, so that a lost peer ends the job with the phase it stalled in instead of a hang.
  static var communicator: Communicator {
    if let c = started { return c }
    var c: Communicator
    let watchdog = Watchdog(rank: launcherRank, timeout: Watchdog.timeout())
    do { c = try watchdog.guarding("MPI startup", step: -1) { try Communicators.start() } } catch {
      printError("unlearn: error: cannot start MPI: \(error)")
      exit(ExitCode.failure)
    }
    if c.size > 1 { c = WatchedCommunicator(c, watchdog: watchdog) } else { watchdog.stop() }
    HDF5File.creationAllowed = c.rank == 0
    started = c
    let env = ProcessInfo.processInfo.environment
    if env["OPENBLAS_NUM_THREADS"] == nil {
      let local = Int(env["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? c.size
      BLASThreads.count = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
    }
    return c
  }

  static var isRoot: Bool { started?.rank ?? 0 == 0 }

  /// Applies a run's `watchdog_seconds` to every collective of the job.
  static func setWatchdogTimeout(_ seconds: Double) {
    (started as? WatchedCommunicator)?.setTimeout(seconds)
  }

  /// Prints on rank 0 only.
  static func log(_ s: String) { if isRoot { printError(s) } }

  /// Prints the reason and ends the job: MPI_Abort under mpirun (so no rank hangs), exit otherwise.
  static func fail(_ message: String, code: Int32) -> Never {
    if let c = started, c.size > 1 {
      c.abort(message: "error: " + message, code: code)
    }
    printError("unlearn: error: " + message)
    exit(code)
  }

  static func shutdown() {
    if let c = started { try? c.finalize() }
  }
}

/// This process's rank as the MPI launcher announced it (0 without a launcher), known before MPI starts.
let launcherRank =
  ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy
  .compactMap { ProcessInfo.processInfo.environment[$0].flatMap { Int($0) } }.first ?? 0

/// Whether a file can be created in `folder`. `access(W_OK)` is not enough (root passes it on read-only
/// mounts and in sysfs), so this creates and removes a probe file.
func canCreateFiles(in folder: String) -> Bool {
  let probe = (folder as NSString).appendingPathComponent(".unlearn-probe-\(getpid())")
  let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
  guard fd >= 0 else { return false }
  close(fd)
  unlink(probe)
  return true
}

/// Checks, before any work starts, that an output file can be created in its folder. Only rank 0 writes
/// files, so other ranks skip the check (their hosts need not have the folder).
func checkOutputFile(_ path: String, flag: String) throws {
  guard launcherRank == 0 else { return }
  let dir = (path as NSString).deletingLastPathComponent
  let folder = dir.isEmpty ? "." : dir
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
    throw UsageError("option \(flag) \(path): folder \(folder) does not exist")
  }
  guard canCreateFiles(in: folder) else { throw UsageError("option \(flag) \(path): folder \(folder) is not writable") }
  if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
    throw UsageError("option \(flag) \(path): is a folder, expected a file name")
  }
}

/// Checks that an output folder exists and is writable, or can be created (its parent exists and is
/// writable), without creating it.
func checkOutputFolder(_ path: String, flag: String) throws {
  guard launcherRank == 0 else { return }
  var isDir: ObjCBool = false
  if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
    guard isDir.boolValue else { throw UsageError("option \(flag) \(path): exists and is not a folder") }
    guard canCreateFiles(in: path) else { throw UsageError("option \(flag) \(path): folder is not writable") }
  } else {
    let dir = (path as NSString).deletingLastPathComponent
    let parent = dir.isEmpty ? "." : dir
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
      throw UsageError("option \(flag) \(path): folder \(parent) does not exist")
    }
    guard canCreateFiles(in: parent) else {
      throw UsageError("option \(flag) \(path): folder \(parent) is not writable")
    }
  }
}

/// Creates an output folder (its parent must exist) and checks it is writable.
func prepareOutputFolder(_ path: String, flag: String) throws {
  try checkOutputFolder(path, flag: flag)
  if !FileManager.default.fileExists(atPath: path) {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) } catch {
      throw UsageError("option \(flag) \(path): cannot create the folder: \(error.localizedDescription)")
    }
  }
}

/// Checks that an input file exists and is readable, naming the flag.
func checkInputFile(_ path: String, flag: String) throws {
  guard FileManager.default.isReadableFile(atPath: path) else {
    throw UsageError("option \(flag) \(path): file does not exist or is not readable")
  }
}
