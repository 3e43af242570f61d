import Foundation
import Synchronization
import Testing

@testable import Distributed

@Suite("Watchdog")
struct WatchdogTests {
  final class Recorder: Sendable {
    let stalls = Mutex<[Watchdog.Stall]>([])
    func record(_ stall: Watchdog.Stall) { stalls.withLock { $0.append(stall) } }
    var all: [Watchdog.Stall] { stalls.withLock { $0 } }
  }

  @Test func firesOnceNamingPhaseAndStep() throws {
    let recorder = Recorder()
    let watchdog = Watchdog(rank: 3, timeout: 0.2, onStall: { recorder.record($0) })
    defer { watchdog.stop() }
    let armed = Date()
    watchdog.arm("gradient allreduce", step: 41)
    while recorder.all.isEmpty && Date().timeIntervalSince(armed) < 10 { usleep(10_000) }
    usleep(300_000)  // it stays disarmed after firing: no second report
    let stalls = recorder.all
    #expect(stalls.count == 1)
    let stall = try #require(stalls.first)
    #expect(stall.rank == 3 && stall.phase == "gradient allreduce" && stall.step == 41)
    #expect(stall.seconds >= 0.2 && stall.seconds <= Date().timeIntervalSince(armed))
    #expect(stall.message.hasPrefix("unlearn: rank 3: stalled for 0."))
    #expect(stall.message.hasSuffix(" s in gradient allreduce at step 41; aborting"))
  }

  @Test func disarmedPhasesDoNotFire() throws {
    let recorder = Recorder()
    let watchdog = Watchdog(rank: 0, timeout: 1, onStall: { recorder.record($0) })
    defer { watchdog.stop() }
    for step in 0..<20 {
      watchdog.guarding("fast phase", step: step) { usleep(50_000) }
    }
    usleep(1_200_000)
    #expect(recorder.all.isEmpty)
  }

  @Test func rearmingRestartsTheClock() throws {
    let recorder = Recorder()
    let watchdog = Watchdog(rank: 0, timeout: 1.5, onStall: { recorder.record($0) })
    defer { watchdog.stop() }
    for step in 0..<5 {  // 1.5 s armed in total, never 1.5 s since the last arming
      watchdog.arm("loader", step: step)
      usleep(300_000)
    }
    watchdog.disarm()
    #expect(recorder.all.isEmpty)
  }

  @Test func timeoutFromEnvironment() {
    #expect(Watchdog.timeout(environment: [:]) == 120)
    #expect(Watchdog.timeout(environment: ["UNLEARN_WATCHDOG_SECONDS": "7.5"]) == 7.5)
    #expect(Watchdog.timeout(environment: ["UNLEARN_WATCHDOG_SECONDS": "soon"]) == 120)
    let disabled = Watchdog(rank: 0, timeout: 0)
    disabled.arm("anything", step: 0)
    #expect(disabled.timeout == 0)
  }
}

/// The per-thread "armed" mark belongs to the arming: a watchdog stopped (or dropped) while armed, or
/// disarmed from another thread, must not leave the arming thread marked (it once leaked between tests
/// sharing a worker thread and silenced WatchedCommunicator).
@Test func armedMarkIsReleasedByStopAndByOtherThreads() throws {
  #expect(!Watchdog.isArmedOnThisThread)
  let a = Watchdog(rank: 0, timeout: 100)
  a.arm("phase", step: 1)
  #expect(Watchdog.isArmedOnThisThread)
  a.stop()
  #expect(!Watchdog.isArmedOnThisThread)
  do {
    let b = Watchdog(rank: 0, timeout: 100)
    b.arm("phase", step: 2)
  }
  #expect(!Watchdog.isArmedOnThisThread, "a dropped watchdog releases its mark")
  let c = Watchdog(rank: 0, timeout: 100)
  defer { c.stop() }
  c.arm("phase", step: 3)
  let other = Thread { c.disarm() }
  other.start()
  while other.isExecuting || !other.isFinished { usleep(1000) }
  #expect(!Watchdog.isArmedOnThisThread, "disarmed on another thread")
}
