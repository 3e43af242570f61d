import Distributed
import Foundation
import Synchronization
import Testing

@testable import Unlearning

/// The watchdog around every collective (``WatchedCommunicator``), in-process with a communicator whose
/// collectives take as long as a test says: stalls outside the trainers are named too, and a caller's own
/// phase wins over the communicator's.
@Suite struct ReliabilityWatchdogTests {
  /// Two "ranks" whose blocking collectives each take `delay` seconds (a peer that stopped answering).
  final class SlowCommunicator: Communicator {
    let rank = 0, size = 2
    let delay: Double
    /// When set, a stalled collective lasts until the watchdog has reported it (at most 10 s), so the test
    /// does not depend on how soon a loaded machine schedules the watchdog's thread.
    var reported: (() -> Int)?
    init(delay: Double) { self.delay = delay }
    func stall() {
      let before = reported?() ?? 0
      usleep(useconds_t(delay * 1e6))
      guard let reported else { return }
      let deadline = Date().addingTimeInterval(10)
      while reported() == before && Date() < deadline { usleep(10_000) }
    }
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { stall() }
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { stall() }
    func allreduceMax(_ value: Double) throws -> Double { stall(); return value }
    func allreduceMax(_ value: Int) throws -> Int { stall(); return value }
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, into request: AllreduceRequest) throws {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws { stall() }
    func broadcast(_ bytes: inout [UInt8], root: Int) throws { stall() }
    func barrier() throws { stall() }
    func abort(message: String, code: Int32) -> Never { fatalError(message) }
    func finalize() throws { stall() }
  }

  final class Recorder: Sendable {
    let stalls = Mutex<[Watchdog.Stall]>([])
    func record(_ stall: Watchdog.Stall) { stalls.withLock { $0.append(stall) } }
    var all: [Watchdog.Stall] { stalls.withLock { $0 } }
  }

  func watched(delay: Double, timeout: Double) -> (WatchedCommunicator, Recorder) {
    let recorder = Recorder()
    let watchdog = Watchdog(rank: 0, timeout: timeout, onStall: { recorder.record($0) })
    let slow = SlowCommunicator(delay: delay)
    if delay > timeout { slow.reported = { recorder.all.count } }
    return (WatchedCommunicator(slow, watchdog: watchdog), recorder)
  }

  @Test func distributedRowsNamesItsAllreduce() throws {
    let (comm, recorder) = watched(delay: 1.0, timeout: 0.2)
    defer { comm.watchdog.stop() }
    _ = try Distribute.rows(count: 4, rowShape: [1], communicator: comm) { .init(shape: [$0.count, 1]) }
    let stall = try #require(recorder.all.first)
    #expect(recorder.all.count == 1 && stall.phase == "distributed rows allreduce" && stall.step == -1)
    #expect(stall.message.hasSuffix(" s in distributed rows allreduce; aborting"), "\(stall.message)")
  }

  @Test func unnamedCollectivesAndFinalizeAreWatchedToo() throws {
    let (comm, recorder) = watched(delay: 0.6, timeout: 0.2)
    _ = try comm.during("startup agreement") { try comm.agree(false) }
    try comm.barrier()
    try comm.finalize()
    #expect(recorder.all.map(\.phase) == ["startup agreement", "collective", "MPI finalize"])
  }

  /// A trainer times its collectives with its own watchdog and phase ("gradient allreduce at step 7");
  /// the communicator's watchdog then stays out of the way, so the report names the trainer's phase.
  @Test func aCallersOwnPhaseWins() throws {
    let recorder = Recorder(), outer = Recorder()
    let slow = SlowCommunicator(delay: 0.6)
    slow.reported = { recorder.all.count + outer.all.count }
    let comm = WatchedCommunicator(slow, watchdog: Watchdog(rank: 0, timeout: 0.2, onStall: { recorder.record($0) }))
    defer { comm.watchdog.stop() }
    let trainerWatchdog = Watchdog(rank: 0, timeout: 0.3, onStall: { outer.record($0) })
    defer { trainerWatchdog.stop() }
    _ = try trainerWatchdog.guarding("metrics allreduce", step: 7) { try comm.allreduceMax(1.0) }
    #expect(recorder.all.isEmpty)
    #expect(outer.all.map(\.phase) == ["metrics allreduce"] && outer.all.first?.step == 7)
    #expect(!Watchdog.isArmedOnThisThread)
    // Outside the trainer's phase the communicator times the collective itself again.
    try comm.barrier()
    #expect(recorder.all.map(\.phase) == ["collective"])
  }

  @Test func fastCollectivesNeverFireAndTheTimeoutCanChange() throws {
    let (comm, recorder) = watched(delay: 0.01, timeout: 0.5)
    defer { comm.watchdog.stop() }
    for _ in 0..<20 { try comm.barrier() }
    comm.setTimeout(7)
    #expect(comm.watchdog.timeout == 7)
    usleep(600_000)
    #expect(recorder.all.isEmpty)
  }
}
