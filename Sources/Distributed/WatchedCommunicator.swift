import Foundation

/// A communicator whose blocking collectives are timed by a ``Watchdog``, so that a collective that never
/// completes (a peer host cut off, a rank stuck) ends the process with a line naming the phase instead of
/// hanging the job.
///
/// A collective the caller already times with its own watchdog (a trainer's "gradient allreduce at step
/// 12") is left to that phase; any other is timed as the current ``phase`` (set with
/// ``Communicator/during(_:step:_:)``, default "collective"). `finalize()` is timed as "MPI finalize".
/// Non-blocking starts pass straight through; whoever waits on the request times the wait.
public final class WatchedCommunicator: Communicator {
  public let inner: Communicator
  /// Times the collectives; replaced by ``setTimeout(_:)``.
  public private(set) var watchdog: Watchdog
  /// The phase and step named when an untimed collective stalls (step < 0: none).
  public private(set) var phase: StaticString = "collective"
  public private(set) var step = -1

  public var rank: Int { inner.rank }
  public var size: Int { inner.size }

  public init(_ inner: Communicator, watchdog: Watchdog) {
    self.inner = inner
    self.watchdog = watchdog
  }

  /// Replaces the watchdog with one of `seconds` (e.g. a run's `watchdog_seconds`).
  public func setTimeout(_ seconds: Double) {
    guard seconds != watchdog.timeout else { return }
    watchdog.stop()
    watchdog = Watchdog(rank: rank, timeout: seconds)
  }

  /// Runs `body` with collectives named `phase` at `step`, restoring the previous names afterwards.
  public func during<T>(_ phase: StaticString, step: Int = -1, _ body: () throws -> T) rethrows -> T {
    let saved = (self.phase, self.step)
    (self.phase, self.step) = (phase, step)
    defer { (self.phase, self.step) = saved }
    return try body()
  }

  @inline(__always)
  private func timed<T>(_ body: () throws -> T) rethrows -> T {
    if Watchdog.isArmedOnThisThread { return try body() }
    return try watchdog.guarding(phase, step: step, body)
  }

  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
    try timed { try inner.allreduceSum(buffer) }
  }
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
    try timed { try inner.allreduceSum(buffer) }
  }
  public func allreduceMax(_ value: Double) throws -> Double { try timed { try inner.allreduceMax(value) } }
  public func allreduceMax(_ value: Int) throws -> Int { try timed { try inner.allreduceMax(value) } }

  public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, into request: AllreduceRequest) throws {
    try inner.startAllreduceSum(buffer, into: request)
  }

  public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
    try timed { try inner.broadcast(buffer, root: root) }
  }

  public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
    try timed { try inner.broadcast(&bytes, root: root) }
  }

  public func barrier() throws { try timed { try inner.barrier() } }

  public func abort(message: String, code: Int32) -> Never { inner.abort(message: message, code: code) }

  public func finalize() throws {
    try during("MPI finalize") { try timed { try inner.finalize() } }
    watchdog.stop()
  }
}

extension Communicator {
  /// Runs `body`, naming `phase` (and `step`, if ≥ 0) in the stall report of any collective inside it
  /// when this is a ``WatchedCommunicator``; otherwise just runs `body`.
  public func during<T>(_ phase: StaticString, step: Int = -1, _ body: () throws -> T) rethrows -> T {
    guard let watched = self as? WatchedCommunicator else { return try body() }
    return try watched.during(phase, step: step, body)
  }
}
