/// The collective operations the trainer needs, over all ranks of one job.
///
/// Two implementations: ``LocalCommunicator`` (one process, every collective is the identity) and
/// ``MPICommunicator``. Get one from ``Communicators/start()``.
///
/// Rules shared by every method:
/// - Collectives must be called by every rank, in the same order, with the same counts.
/// - MPI is initialised with `MPI_THREAD_FUNNELED`: call from the thread that called `start()`.
/// - Failures throw ``MPIError``. Nothing is retried; a rank that sees an error should
///   ``abort(message:code:)`` because the others are likely waiting on it.
public protocol Communicator: AnyObject {
  /// This process's index, `0 ..< size`.
  var rank: Int { get }
  /// Number of processes in the job.
  var size: Int { get }

  /// Element-wise sum over ranks, in place: afterwards every rank holds the same sums.
  func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
  /// Element-wise sum over ranks, in place.
  func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
  /// The largest `value` over ranks.
  func allreduceMax(_ value: Double) throws -> Double
  /// The largest `value` over ranks.
  func allreduceMax(_ value: Int) throws -> Int

  /// Starts a non-blocking in-place sum of `buffer` and tracks it in `request`, which must be complete.
  ///
  /// Neither read nor write `buffer` until `request` completes (``AllreduceRequest/test()`` returns
  /// true or ``AllreduceRequest/wait()`` returns); `buffer` must stay allocated until then.
  /// Reusing one request object per buffer keeps a step loop free of allocation.
  func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, into request: AllreduceRequest) throws

  /// Copies `buffer` on rank `root` into `buffer` on every other rank (same count everywhere).
  func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
  /// Copies `bytes` on rank `root` to every other rank; other ranks' arrays are resized to match,
  /// so their input length does not matter.
  func broadcast(_ bytes: inout [UInt8], root: Int) throws

  /// Blocks until every rank has called it.
  func barrier() throws

  /// Writes `unlearn: rank R: message` to standard error and ends the whole job with `code`.
  ///
  /// Safe to call on one rank while the others sit in a collective: under MPI this is `MPI_Abort`
  /// (with a fallback `_exit` if that does not return within a few seconds).
  func abort(message: String, code: Int32) -> Never

  /// Shuts MPI down (`MPI_Finalize`). Call once, after the last collective, on every rank.
  /// Calling it again does nothing.
  func finalize() throws
}

extension Communicator {
  /// Whether this is rank 0, the rank that logs and writes files.
  public var isRoot: Bool { rank == 0 }

  /// Logical OR of `flag` over ranks (an allreduce of 0/1 with MAX).
  ///
  /// Use it for every decision that could differ between ranks (a NaN seen, an I/O error, a stop
  /// request) so that all ranks take the same branch.
  public func agree(_ flag: Bool) throws -> Bool {
    try allreduceMax(flag ? 1 : 0) > 0
  }

  /// Sum of `value` over ranks.
  public func allreduceSum(_ value: Double) throws -> Double {
    var result = value
    try withUnsafeMutablePointer(to: &result) { try allreduceSum(UnsafeMutableBufferPointer(start: $0, count: 1)) }
    return result
  }

  /// Starts a non-blocking in-place sum of `buffer` with a fresh request object.
  /// See ``startAllreduceSum(_:into:)`` for the buffer rules.
  public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> AllreduceRequest {
    let request = AllreduceRequest()
    try startAllreduceSum(buffer, into: request)
    return request
  }

  /// `string` from rank `root` (UTF-8), e.g. to ship the resolved configuration; other ranks' input is ignored.
  public func broadcast(_ string: String, root: Int) throws -> String {
    var bytes = rank == root ? Array(string.utf8) : []
    try broadcast(&bytes, root: root)
    return String(decoding: bytes, as: UTF8.self)
  }
}
