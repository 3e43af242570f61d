#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A job of one process that never touches MPI: every collective leaves its data as it is.
///
/// This is what ``Communicators/start()`` returns outside `mpirun`, so single-rank runs work on machines
/// without a working MPI launcher.
public final class LocalCommunicator: Communicator {
  public let rank = 0
  public let size = 1

  public init() {}

  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
  public func allreduceMax(_ value: Double) throws -> Double { value }
  public func allreduceMax(_ value: Int) throws -> Int { value }

  public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, into request: AllreduceRequest) throws {
    precondition(!request.isPending, "startAllreduceSum: the request is still pending")
  }

  public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
    precondition(root == 0, "broadcast root \(root) outside 0..<1")
  }

  public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
    precondition(root == 0, "broadcast root \(root) outside 0..<1")
  }

  public func barrier() throws {}

  /// Writes `unlearn: rank 0: message` to standard error and exits with `code`.
  public func abort(message: String, code: Int32) -> Never {
    reportFatal(rank: 0, message)
    exit(code)
  }

  public func finalize() throws {}
}

/// `unlearn: rank R: message` on standard error, after flushing standard output so logs stay in order.
func reportFatal(rank: Int, _ message: String) {
  fflush(stdout)
  fputs("unlearn: rank \(rank): \(message)\n", stderr)
  fflush(stderr)
}
