// distributed-check: self-checks of the Distributed target, run under `mpirun` by DistributedTests
// (and by hand). Each subcommand prints one `rank R/N ...` line per rank and exits 0 only if every
// check on every rank passed.
import Distributed
import Foundation

let usage = """
  OVERVIEW: Checks the MPI layer of unlearn; run under mpirun -np N (or alone for one rank).

  USAGE: distributed-check <subcommand>

  SUBCOMMANDS:
    allreduce           blocking and non-blocking sums, max, broadcast of floats and bytes
    buckets             a simulated backward over 10 layers with bucketed, overlapped allreduce
    agree               logical OR across ranks
    abort-on-rank <R>   rank R aborts with a message while the others wait in a barrier
    stall [<seconds>]   rank 1 never joins an allreduce; the watchdog (default 3 s) must end the job
    loop <steps>        guarded 1 MiB allreduces every 0.2 s (watchdog from UNLEARN_WATCHDOG_SECONDS),
                        to cut the network under (see /work/shared/tools/test-hosts)

  """

func usageError(_ message: String) -> Never {
  FileHandle.standardError.write(Data("Error: \(message)\n\(usage)See 'distributed-check --help'.\n".utf8))
  exit(64)
}

enum Check {
  case allreduce, buckets, agree
  case abortOnRank(Int)
  case stall(seconds: Double)
  case loop(steps: Int)
}

func parse(_ arguments: [String]) -> Check {
  guard let name = arguments.first else { usageError("missing subcommand") }
  let rest = Array(arguments.dropFirst())
  switch name {
  case "-h", "--help", "help":
    print(usage, terminator: "")
    exit(0)
  case "allreduce", "buckets", "agree":
    guard rest.isEmpty else { usageError("unexpected argument '\(rest[0])'") }
    return name == "allreduce" ? .allreduce : name == "buckets" ? .buckets : .agree
  case "abort-on-rank":
    guard rest.count == 1, let rank = Int(rest[0]), rank >= 0 else { usageError("abort-on-rank needs a rank") }
    return .abortOnRank(rank)
  case "stall":
    guard rest.count <= 1 else { usageError("unexpected argument '\(rest[1])'") }
    guard let seconds = rest.first.map({ Double($0) }) ?? 3, seconds > 0 else {
      usageError("stall needs a positive number of seconds")
    }
    return .stall(seconds: seconds)
  case "loop":
    guard rest.count == 1, let steps = Int(rest[0]), steps > 0 else { usageError("loop needs a step count") }
    return .loop(steps: steps)
  default:
    usageError("unknown subcommand '\(name)'")
  }
}

/// Failed expectations of this rank.
var failures: [String] = []

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
  if !condition { failures.append(message()) }
}

/// Σ_r (r + 1) over ranks: the multiplier every rank-dependent fill below sums to.
func rankSum(_ comm: any Communicator) -> Float { Float(comm.size * (comm.size + 1) / 2) }

func checkAllreduce(_ comm: any Communicator) throws {
  let n = 100_003
  let scale = Float(comm.rank + 1)
  var floats = (0..<n).map { scale * Float($0 % 13 + 1) }
  try floats.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
  let badFloat = floats.indices.first { floats[$0] != rankSum(comm) * Float($0 % 13 + 1) }
  expect(badFloat == nil, "float allreduce wrong at \(badFloat ?? -1): \(badFloat.map { floats[$0] } ?? 0)")

  var doubles = (0..<1000).map { Double(comm.rank + 1) * (Double($0) + 0.5) }
  try doubles.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
  let badDouble = doubles.indices.first { doubles[$0] != Double(rankSum(comm)) * (Double($0) + 0.5) }
  expect(badDouble == nil, "double allreduce wrong at \(badDouble ?? -1)")

  expect(try comm.allreduceMax(Double(comm.rank) - 0.5) == Double(comm.size) - 1.5, "allreduceMax(Double)")
  expect(try comm.allreduceMax(-comm.rank) == 0, "allreduceMax(Int)")
  expect(try comm.allreduceSum(Double(comm.rank + 1)) == Double(rankSum(comm)), "allreduceSum(Double)")

  // Non-blocking: drive one to completion with test(), another with wait().
  var pending = [Float](repeating: scale, count: 4096)
  var polls = 0
  try pending.withUnsafeMutableBufferPointer { buffer in
    let request = try comm.startAllreduceSum(buffer)
    while try !request.test() { polls += 1 }
    try comm.startAllreduceSum(buffer, into: request)
    try request.wait()
    expect(!request.isPending, "request still pending after wait()")
  }
  expect(pending.allSatisfy { $0 == rankSum(comm) * Float(comm.size) }, "non-blocking allreduce wrong: \(pending[0])")

  let root = comm.size - 1
  var weights = [Float](repeating: Float(comm.rank), count: 777)
  try weights.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: root) }
  expect(weights.allSatisfy { $0 == Float(root) }, "float broadcast from rank \(root)")

  let config = "model = \"dcgan28\"\nlearning-rate = 1e-4 # ünïcode ✓\n"
  let received = try comm.broadcast(comm.isRoot ? config : "junk from rank \(comm.rank)", root: 0)
  expect(received == config, "string broadcast gave \(received.debugDescription)")
  var empty: [UInt8] = comm.isRoot ? [] : [1, 2, 3]
  try comm.broadcast(&empty, root: 0)
  expect(empty.isEmpty, "empty byte broadcast left \(empty.count) bytes")

  try comm.barrier()
  print("rank \(comm.rank)/\(comm.size) \(type(of: comm)) allreduce ok (\(polls) polls)")
}

func checkBuckets(_ comm: any Communicator) throws {
  // Ten layers of (weight, bias), flat in forward order, with 3 trailing elements no parameter owns.
  let sizes = [
    (784 * 64, 64), (64 * 10, 10), (5000, 50), (30_000, 300), (128, 1),
    (70_000, 70), (9, 3), (200_000, 200), (4000, 40), (12_345, 5),
  ]
  var forward: [[Range<Int>]] = []
  var offset = 0
  for (weight, bias) in sizes {
    forward.append([offset..<(offset + weight), (offset + weight)..<(offset + weight + bias)])
    offset += weight + bias
  }
  let count = offset + 3
  let backward = forward.reversed().flatMap { $0.reversed() }
  let gradients = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
  defer { gradients.deallocate() }
  let buckets = GradientBuckets(
    communicator: comm, gradients: gradients, parameterRanges: backward, bucketBytes: 256 << 10)

  let scale = Float(comm.rank + 1)
  var timings: [GradientBuckets.Timing] = []
  for step in 0..<3 {
    for i in count - 3..<count { gradients[i] = scale }
    var parameter = 0
    for layer in forward.indices.reversed() {
      for range in forward[layer].reversed() {  // "backward" writes this layer's gradients
        for i in range { gradients[i] = scale * Float(i % 17 + step) }
      }
      usleep(2000)
      for _ in forward[layer] {
        try buckets.parameterReady(parameter)
        parameter += 1
      }
      try buckets.poll()
    }
    timings.append(try buckets.finish())
    let bad = (0..<count - 3).first { gradients[$0] != rankSum(comm) * Float($0 % 17 + step) }
    expect(bad == nil, "step \(step): bucketed sum wrong at \(bad ?? -1): \(bad.map { gradients[$0] } ?? 0)")
    expect((count - 3..<count).allSatisfy { gradients[$0] == scale }, "step \(step): unowned elements changed")
  }
  let reduced = comm.size > 1
  expect(timings.allSatisfy { $0.bucketCount == (reduced ? buckets.buckets.count : 0) }, "bucket count in timing")
  expect(buckets.buckets.count > 3, "expected several buckets, got \(buckets.buckets.count)")
  let last = timings.last!
  print(
    "rank \(comm.rank)/\(comm.size) \(type(of: comm)) buckets ok: \(buckets.buckets.count) buckets, "
      + "\(last.bytes) bytes, waited \(String(format: "%.4f", last.waitSeconds)) s of "
      + "\(String(format: "%.4f", last.communicationSeconds)) s communication "
      + "(\(String(format: "%.0f", 100 * last.hiddenFraction))% hidden)")
}

func checkAgree(_ comm: any Communicator) throws {
  expect(try comm.agree(comm.rank == comm.size - 1), "agree(true on the last rank) was false")
  expect(try !comm.agree(false), "agree(false everywhere) was true")
  expect(try comm.agree(true), "agree(true everywhere) was false")
  expect(try comm.agree(comm.rank == 0), "agree(true on rank 0) was false")
  print("rank \(comm.rank)/\(comm.size) \(type(of: comm)) agree ok")
}

let check = parse(Array(CommandLine.arguments.dropFirst()))
let comm: any Communicator
do {
  comm = try Communicators.start()
} catch {
  FileHandle.standardError.write(Data("distributed-check: \(error)\n".utf8))
  exit(1)
}

do {
  switch check {
  case .allreduce: try checkAllreduce(comm)
  case .buckets: try checkBuckets(comm)
  case .agree: try checkAgree(comm)
  case .abortOnRank(let victim):
    if comm.rank == victim {
      usleep(200_000)
      comm.abort(message: "deliberate abort requested by distributed-check", code: 3)
    }
    print("rank \(comm.rank)/\(comm.size) waiting in a barrier for rank \(victim)")
    fflush(stdout)
    try comm.barrier()
    failures.append("barrier returned although rank \(victim) aborted")
  case .stall(let seconds):
    let watchdog = Watchdog(rank: comm.rank, timeout: seconds)
    print("rank \(comm.rank)/\(comm.size) stall check, watchdog \(seconds) s")
    fflush(stdout)
    if comm.rank == 1 {
      sleep(600)  // never joins; mpirun ends this rank once rank 0's watchdog fires
    }
    var value: Double = 1
    try watchdog.guarding("stall-check allreduce", step: 7) {
      try withUnsafeMutablePointer(to: &value) {
        try comm.allreduceSum(UnsafeMutableBufferPointer(start: $0, count: 1))
      }
    }
    failures.append("allreduce returned although rank 1 never joined (size \(comm.size))")
  case .loop(let steps):
    let watchdog = Watchdog(rank: comm.rank)
    var values = [Float](repeating: 1, count: 1 << 18)
    for step in 0..<steps {
      try values.withUnsafeMutableBufferPointer { buffer in
        try watchdog.guarding("loop allreduce", step: step) { try comm.allreduceSum(buffer) }
        expect(buffer.allSatisfy { $0 == Float(comm.size) }, "step \(step): loop sum wrong")
        for i in buffer.indices { buffer[i] = 1 }
      }
      if comm.isRoot {
        print("step \(step) ok")
        fflush(stdout)
      }
      usleep(200_000)
    }
    print("rank \(comm.rank)/\(comm.size) \(type(of: comm)) loop ok")
  }
  let anyFailed = try comm.agree(!failures.isEmpty)
  for failure in failures { FileHandle.standardError.write(Data("rank \(comm.rank): FAILED: \(failure)\n".utf8)) }
  try comm.finalize()
  exit(anyFailed ? 1 : 0)
} catch {
  comm.abort(message: "\(error)", code: 1)
}
