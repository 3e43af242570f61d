internal import CMPI

/// One outstanding non-blocking allreduce (an `MPI_Request`), or none.
///
/// A fresh request is complete. ``Communicator/startAllreduceSum(_:into:)`` makes it pending; `test()` or
/// `wait()` complete it, after which the object can be started again. A request from a
/// ``LocalCommunicator`` is always complete.
public final class AllreduceRequest {
  var handle: MPI_Request? = cmpi_request_null()
  /// Whether an operation was started and has not been seen to complete.
  public internal(set) var isPending = false

  /// A complete (idle) request.
  public init() {}

  deinit {
    assert(!isPending, "AllreduceRequest released while its allreduce is still running")
  }

  /// Whether the operation has completed (`MPI_Test`, which also drives its progress).
  public func test() throws -> Bool {
    guard isPending else { return true }
    var done: Int32 = 0
    try checkMPI(MPI_Test(&handle, &done, cmpi_status_ignore()), "MPI_Test")
    if done != 0 { isPending = false }
    return done != 0
  }

  /// Blocks until the operation has completed (`MPI_Wait`).
  public func wait() throws {
    guard isPending else { return }
    try checkMPI(MPI_Wait(&handle, cmpi_status_ignore()), "MPI_Wait")
    isPending = false
  }
}
