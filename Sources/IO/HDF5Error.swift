import Foundation

/// A failure reading or writing an HDF5 file, naming the file and the object involved.
///
/// Printed as `file: object: reason`, e.g.
/// `checkpoints/x.h5: dataset /generator/main.0.weight: not found`.
public struct HDF5Error: Error, Equatable, CustomStringConvertible, LocalizedError {
  /// What went wrong.
  public enum Reason: Equatable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound
    /// The file exists but is not an HDF5 file.
    case notHDF5
    /// The dataset, group or attribute does not exist.
    case notFound
    /// Something already exists at the path being created.
    case alreadyExists
    /// The object holds another kind or type of data (e.g. a string where a number was expected).
    case wrongType(expected: String, found: String)
    /// The dataset or attribute has another shape than required.
    case wrongShape(expected: [Int], found: [Int])
    /// The file is closed, committed, or was opened read-only.
    case notWritable
    /// The file was already closed or committed.
    case closed
    /// The content is valid HDF5 but not what the format requires.
    case invalidContent(String)
    /// An HDF5 C function failed; `detail` is the innermost message of HDF5's error stack.
    case callFailed(function: String, detail: String?)
    /// An operating-system call failed (fsync, rename, unlink).
    case system(String)

    public var description: String {
      switch self {
      case .fileNotFound: return "file not found"
      case .notHDF5: return "not an HDF5 file"
      case .notFound: return "not found"
      case .alreadyExists: return "already exists"
      case .wrongType(let expected, let found): return "expected \(expected), found \(found)"
      case .wrongShape(let expected, let found): return "expected shape \(expected), found \(found)"
      case .notWritable: return "file is not open for writing"
      case .closed: return "file is closed"
      case .invalidContent(let message): return message
      case .callFailed(let function, let detail):
        return detail.map { "\(function) failed (\($0))" } ?? "\(function) failed"
      case .system(let message): return message
      }
    }
  }

  /// The file as given by the caller.
  public let file: String
  /// The object involved, e.g. `dataset /generator/main.0.weight` or `attribute format of /`; empty when
  /// the error concerns the whole file.
  public let object: String
  public let reason: Reason

  public init(file: String, object: String = "", reason: Reason) {
    self.file = file
    self.object = object
    self.reason = reason
  }

  public var description: String {
    object.isEmpty ? "\(file): \(reason)" : "\(file): \(object): \(reason)"
  }

  public var errorDescription: String? { description }
}

/// A failure of an operating-system file operation (open, write, fsync, rename), naming the file.
public struct FileError: Error, Equatable, CustomStringConvertible, LocalizedError {
  /// The file as given by the caller.
  public let path: String
  /// The operation that failed, e.g. `rename` or `write`.
  public let operation: String
  /// The system's message (`strerror(errno)`).
  public let message: String

  public init(path: String, operation: String, message: String) {
    self.path = path
    self.operation = operation
    self.message = message
  }

  /// An error for the current `errno`.
  static func errno(_ path: String, _ operation: String) -> FileError {
    FileError(path: path, operation: operation, message: String(cString: strerror(Foundation.errno)))
  }

  public var description: String { "\(path): \(operation) failed: \(message)" }
  public var errorDescription: String? { description }
}
