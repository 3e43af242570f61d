internal import CMPI

/// A failed MPI call: the function, its return code and the library's text for that code.
///
/// `MPI_ERRORS_RETURN` is installed on the world communicator, so failures come back here instead of
/// killing the process. A rank that catches one should call ``Communicator/abort(message:code:)``:
/// the other ranks are probably blocked in the same collective.
public struct MPIError: Error, CustomStringConvertible, Equatable {
  /// The MPI function that failed, e.g. `MPI_Allreduce`.
  public let function: String
  /// The MPI error code it returned (or `-1` for a failure detected by this package).
  public let code: Int32
  /// The library's description of `code`.
  public let message: String

  public init(function: String, code: Int32, message: String) {
    self.function = function
    self.code = code
    self.message = message
  }

  public var description: String { "\(function) failed (MPI error \(code)): \(message)" }
}

/// Every MPI return code goes through here: success costs one comparison and no allocation.
@inline(__always)
func checkMPI(_ code: Int32, _ function: StaticString) throws {
  if code != cmpi_success() { throw MPIError(function: "\(function)", code: code, message: mpiErrorString(code)) }
}

/// The text MPI gives for an error code (`MPI_Error_string`), or the bare code when MPI is not running
/// (Open MPI aborts on `MPI_Error_string` before `MPI_Init`) or even that call fails.
func mpiErrorString(_ code: Int32) -> String {
  var initialized: Int32 = 0
  var finalized: Int32 = 0
  guard MPI_Initialized(&initialized) == cmpi_success(), initialized != 0,
    MPI_Finalized(&finalized) == cmpi_success(), finalized == 0
  else { return "MPI error \(code)" }
  var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
  var length: Int32 = 0
  guard MPI_Error_string(code, &text, &length) == cmpi_success() else { return "MPI error \(code)" }
  let bytes = text.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }
  return String(decoding: bytes, as: UTF8.self)
}
