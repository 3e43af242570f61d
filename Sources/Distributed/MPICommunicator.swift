internal import CMPI
import Foundation

/// All ranks of an MPI job (`MPI_COMM_WORLD`), created by ``Communicators/start()``.
///
/// MPI is initialised with `MPI_THREAD_FUNNELED` (only the starting thread calls MPI) and
/// `MPI_ERRORS_RETURN`, so every failure comes back as an ``MPIError``.
public final class MPICommunicator: Communicator {
  public let rank: Int
  public let size: Int
  private let comm: MPI_Comm
  private var finalized = false

  /// Seconds `abort` gives `MPI_Abort` before ending this process itself.
  static let abortGraceSeconds: UInt32 = 5

  /// Whether this process has initialised MPI (which it may do only once).
  private static var initialised = false

  /// Calls `MPI_Init_thread`; there can be one per process.
  init() throws {
    precondition(!Self.initialised, "Communicators.start() called twice under MPI")
    Self.initialised = true
    var provided: Int32 = 0
    try checkMPI(MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided), "MPI_Init_thread")
    comm = cmpi_comm_world()
    try checkMPI(MPI_Comm_set_errhandler(comm, cmpi_errors_return()), "MPI_Comm_set_errhandler")
    guard provided >= cmpi_thread_funneled() else {
      throw MPIError(
        function: "MPI_Init_thread", code: -1,
        message: "the library provides thread level \(provided), below MPI_THREAD_FUNNELED")
    }
    var rank: Int32 = 0
    var size: Int32 = 0
    try checkMPI(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank")
    try checkMPI(MPI_Comm_size(comm, &size), "MPI_Comm_size")
    self.rank = Int(rank)
    self.size = Int(size)
  }

  /// Largest element count passed to one MPI call (counts are `Int32`).
  private static let chunk = 1 << 30

  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
    try usable()
    var start = 0
    while start < buffer.count {
      let n = min(Self.chunk, buffer.count - start)
      try checkMPI(
        MPI_Allreduce(cmpi_in_place(), buffer.baseAddress! + start, Int32(n), cmpi_float(), cmpi_sum(), comm),
        "MPI_Allreduce")
      start += n
    }
  }

  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
    try usable()
    var start = 0
    while start < buffer.count {
      let n = min(Self.chunk, buffer.count - start)
      try checkMPI(
        MPI_Allreduce(cmpi_in_place(), buffer.baseAddress! + start, Int32(n), cmpi_double(), cmpi_sum(), comm),
        "MPI_Allreduce")
      start += n
    }
  }

  public func allreduceMax(_ value: Double) throws -> Double {
    try usable()
    var result = value
    try checkMPI(MPI_Allreduce(cmpi_in_place(), &result, 1, cmpi_double(), cmpi_max(), comm), "MPI_Allreduce")
    return result
  }

  public func allreduceMax(_ value: Int) throws -> Int {
    try usable()
    var result = Int64(value)
    try checkMPI(MPI_Allreduce(cmpi_in_place(), &result, 1, cmpi_int64(), cmpi_max(), comm), "MPI_Allreduce")
    return Int(result)
  }

  public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, into request: AllreduceRequest) throws {
    try usable()
    precondition(!request.isPending, "startAllreduceSum: the request is still pending")
    precondition(buffer.count <= Int(Int32.max), "startAllreduceSum: \(buffer.count) elements exceed one MPI call")
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    try checkMPI(
      MPI_Iallreduce(cmpi_in_place(), base, Int32(buffer.count), cmpi_float(), cmpi_sum(), comm, &request.handle),
      "MPI_Iallreduce")
    request.isPending = true
  }

  public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
    try usable()
    precondition((0..<size).contains(root), "broadcast root \(root) outside 0..<\(size)")
    var start = 0
    while start < buffer.count {
      let n = min(Self.chunk, buffer.count - start)
      try checkMPI(MPI_Bcast(buffer.baseAddress! + start, Int32(n), cmpi_float(), Int32(root), comm), "MPI_Bcast")
      start += n
    }
  }

  public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
    try usable()
    precondition((0..<size).contains(root), "broadcast root \(root) outside 0..<\(size)")
    var count = Int64(bytes.count)
    try checkMPI(MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), comm), "MPI_Bcast")
    precondition(count <= Int64(Int32.max), "broadcast of \(count) bytes exceeds one MPI call")
    if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
    guard count > 0 else { return }
    try bytes.withUnsafeMutableBytes {
      try checkMPI(MPI_Bcast($0.baseAddress, Int32(count), cmpi_uint8(), Int32(root), comm), "MPI_Bcast")
    }
  }

  public func barrier() throws {
    try usable()
    try checkMPI(MPI_Barrier(comm), "MPI_Barrier")
  }

  /// Writes `unlearn: rank R: message` to standard error, then `MPI_Abort`s the whole job.
  ///
  /// `MPI_Abort` can hang when the network is gone, so a helper thread ends this process with `code`
  /// after a few seconds regardless; `mpirun` then takes the other ranks down.
  public func abort(message: String, code: Int32) -> Never {
    reportFatal(rank: rank, message)
    // mpirun prints its own abort banner as soon as MPI_Abort reaches it, while our line travels through
    // its asynchronous output forwarding: give the line a moment, so the reason comes first.
    fflush(stderr)
    usleep(300_000)
    let fallback = Thread {
      sleep(MPICommunicator.abortGraceSeconds)
      _exit(code)
    }
    fallback.start()
    if !finalized { _ = MPI_Abort(comm, code) }
    _exit(code)
  }

  public func finalize() throws {
    guard !finalized else { return }
    finalized = true
    try checkMPI(MPI_Finalize(), "MPI_Finalize")
  }

  /// Collectives after `finalize()` are a programming error.
  @inline(__always)
  private func usable() throws {
    precondition(!finalized, "MPI collective called after finalize()")
  }
}
