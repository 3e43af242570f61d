import Foundation
import Synchronization

/// Ends the process when a blocking phase (typically a collective) takes too long, naming the phase.
///
/// The trainer arms it with a phase name and step before a blocking call and disarms it after
/// (or wraps the call in ``guarding(_:step:_:)``). A background thread checks a few times per timeout;
/// if the watchdog has stayed armed longer than `timeout` it writes
/// `unlearn: rank R: stalled for T s in PHASE at step S; aborting` to standard error and calls
/// `_exit(70)` (`EX_SOFTWARE`) without touching MPI, which may itself hang when the network is cut;
/// `mpirun` then ends the other ranks. Arming and disarming take an uncontended lock and never allocate.
public final class Watchdog {
  /// What the watchdog saw when it fired.
  public struct Stall: Equatable, Sendable {
    public var rank: Int
    public var phase: String
    public var step: Int
    /// Seconds the watchdog had been armed.
    public var seconds: Double

    /// The line written to standard error by the default handler (without "at step" when `step` < 0).
    public var message: String {
      let at = step >= 0 ? " at step \(step)" : ""
      return "unlearn: rank \(rank): stalled for \(String(format: "%.1f", seconds)) s in \(phase)\(at); aborting"
    }
  }

  /// Exit status of a process ended by the watchdog (`EX_SOFTWARE`).
  public static let exitCode: Int32 = 70
  /// Timeout used when neither `init` nor `UNLEARN_WATCHDOG_SECONDS` sets one.
  public static let defaultTimeout: Double = 120

  /// `UNLEARN_WATCHDOG_SECONDS` from `environment` if it is a number, else ``defaultTimeout``.
  /// Zero or less disables the watchdog.
  public static func timeout(environment: [String: String] = ProcessInfo.processInfo.environment) -> Double {
    environment["UNLEARN_WATCHDOG_SECONDS"].flatMap(Double.init) ?? defaultTimeout
  }

  /// Seconds an armed phase may last before the process is ended; zero or less means never.
  public let timeout: Double
  private let core: Core

  /// Starts the checking thread (none when `timeout <= 0`).
  /// - Parameters:
  ///   - rank: printed in the stall message.
  ///   - timeout: seconds; defaults to ``timeout(environment:)``.
  ///   - onStall: replaces the default "print and `_exit(70)`" (for tests); called once per arming,
  ///     on the watchdog thread.
  public init(rank: Int, timeout: Double = Watchdog.timeout(), onStall: (@Sendable (Stall) -> Void)? = nil) {
    self.timeout = timeout
    core = Core(rank: rank, timeout: timeout, onStall: onStall ?? { Watchdog.exitOnStall($0) })
    guard timeout > 0 else { return }
    let core = self.core
    let thread = Thread { core.run() }
    thread.name = "unlearn-watchdog"
    thread.start()
  }

  deinit { stop() }

  /// Starts timing `phase` at `step`. Re-arming restarts the clock.
  @inline(__always)
  public func arm(_ phase: StaticString, step: Int) {
    let now = monotonicNanoseconds(), me = Self.currentThread
    let previous = core.state.withLock { state -> UInt? in
      defer { state = Armed(phase: phase, step: step, since: now, thread: me) }
      return state?.thread
    }
    if previous != me {
      if let previous { Self.countArmed(thread: previous, -1) }
      Self.countArmed(thread: me, +1)
    }
  }

  /// Stops timing; the phase finished in time.
  @inline(__always)
  public func disarm() { core.release() }

  /// Whether a watchdog armed by the calling thread is timing it now. ``WatchedCommunicator`` uses it to
  /// leave a collective to the caller's own, more specific phase.
  public static var isArmedOnThisThread: Bool {
    let me = currentThread
    return armedThreads.withLock { ($0[me] ?? 0) > 0 }
  }

  /// Number of armed watchdogs per arming thread. The count belongs to the *watchdog's* arming, not to a
  /// thread-local slot, so a watchdog that is stopped or released while armed (or disarmed from another
  /// thread) takes its count back and cannot leave a thread marked as armed.
  private static let armedThreads: Mutex<[UInt: Int]> = {
    var d: [UInt: Int] = [:]
    d.reserveCapacity(256)  // arming never allocates in practice
    return Mutex(d)
  }()

  @inline(__always) static var currentThread: UInt { UInt(pthread_self()) }

  @inline(__always)
  static func countArmed(thread: UInt, _ delta: Int) {
    armedThreads.withLock { counts in
      let n = (counts[thread] ?? 0) + delta
      if n > 0 { counts[thread] = n } else { counts[thread] = nil }
    }
  }

  /// Runs `body` armed with `phase` and `step`, disarming afterwards (also when it throws).
  @inline(__always) @discardableResult
  public func guarding<T>(_ phase: StaticString, step: Int, _ body: () throws -> T) rethrows -> T {
    arm(phase, step: step)
    defer { disarm() }
    return try body()
  }

  /// Stops the checking thread and releases an armed phase; the watchdog no longer fires.
  public func stop() {
    core.stop()
    core.release()
  }

  private static func exitOnStall(_ stall: Stall) {
    fputs(stall.message + "\n", stderr)
    fflush(stderr)
    endLauncherLater(after: launcherGraceSeconds)
    _exit(exitCode)
  }

  /// Seconds the MPI launcher gets to end the job by itself after a rank's watchdog fired.
  public static let launcherGraceSeconds = 10
  /// Process names of the Open MPI and PRRTE launchers and daemons that start ranks.
  static let launcherNames = ["mpirun", "mpiexec", "orterun", "orted", "prterun", "prted"]

  /// Normally a rank's exit makes `mpirun` end the whole job. But when a peer host is cut off, `mpirun`
  /// (or the host's `orted`) waits forever for the lost host's daemon — measured with Open MPI 4.1 over
  /// TCP, where it even outlives SIGTERM. So before exiting, a stalled rank starts a detached helper that
  /// SIGKILLs its parent after `seconds` if that parent is still an MPI launcher or daemon; when the
  /// launcher ends the job itself (the usual case) the helper finds it gone and does nothing.
  static func endLauncherLater(after seconds: Int) {
    let parent = getppid()
    let name = (try? String(contentsOfFile: "/proc/\(parent)/comm", encoding: .utf8))?
      .trimmingCharacters(in: .whitespacesAndNewlines)
    guard let name, launcherNames.contains(name) else { return }
    let names = launcherNames.joined(separator: "|")
    let script = "sleep \(seconds); case \"$(cat /proc/\(parent)/comm 2>/dev/null)\" in \(names)) kill -9 \(parent);; esac"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // No stdio and no inherited descriptors (MPI sockets, output pipes) in the helper.
    for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
    if let dir = opendir("/proc/self/fd") {
      var open: [Int32] = []
      while let entry = readdir(dir) {
        let fd = withUnsafeBytes(of: entry.pointee.d_name) {
          Int32(String(cString: $0.bindMemory(to: CChar.self).baseAddress!))
        }
        if let fd, fd > 2, fd != dirfd(dir) { open.append(fd) }
      }
      closedir(dir)
      for fd in open where fcntl(fd, F_GETFD) != -1 { posix_spawn_file_actions_addclose(&actions, fd) }
    }
    let words: [String] = ["/bin/sh", "-c", script]
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    _ = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
  }

  /// What is being timed.
  struct Armed {
    var phase: StaticString
    var step: Int
    var since: UInt64
    /// The thread that armed it (``Watchdog/isArmedOnThisThread``).
    var thread: UInt
    /// Reported already: fire once per arming (the phase stays armed until its thread disarms it).
    var fired = false
  }

  /// State shared with the checking thread (which must not keep the `Watchdog` alive).
  final class Core: @unchecked Sendable {
    let state = Mutex<Armed?>(nil)
    let stopped = Atomic<Bool>(false)
    let rank: Int
    let timeoutNanoseconds: UInt64
    let interval: useconds_t
    let onStall: @Sendable (Stall) -> Void

    init(rank: Int, timeout: Double, onStall: @escaping @Sendable (Stall) -> Void) {
      self.rank = rank
      timeoutNanoseconds = UInt64(max(0, timeout) * 1e9)
      interval = useconds_t(min(0.5, max(0.01, timeout / 10)) * 1e6)
      self.onStall = onStall
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Disarms, giving the arming thread's count back.
    func release() {
      let previous = state.withLock { state -> UInt? in
        defer { state = nil }
        return state?.thread
      }
      if let previous { Watchdog.countArmed(thread: previous, -1) }
    }

    func run() {
      while !stopped.load(ordering: .relaxed) {
        usleep(interval)
        let now = monotonicNanoseconds()
        let fired: Armed? = state.withLock { armed in
          guard let current = armed, !current.fired, now > current.since, now - current.since >= timeoutNanoseconds
          else { return nil }
          armed!.fired = true
          return current
        }
        if let fired, !stopped.load(ordering: .relaxed) {
          onStall(
            Stall(rank: rank, phase: "\(fired.phase)", step: fired.step, seconds: seconds(from: fired.since, to: now)))
        }
      }
    }
  }
}
