internal import CHDF5
import Foundation

/// The single gate to the HDF5 C library.
///
/// HDF5's C library is not safe to enter from several threads at once, so every call goes through
/// `HDF5Library.locked`. The lock is recursive so wrapper methods may call each other. HDF5 keeps its
/// error stack and its auto-print setting per thread, so printing is silenced on every entry (cheap).
enum HDF5Library {
  private static let lock = NSRecursiveLock()

  /// Runs `body` holding the library lock, with HDF5's own error printing turned off.
  static func locked<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    ch5_silence_errors()
    return try body()
  }

  /// The innermost message on this thread's HDF5 error stack (the most specific cause), if any.
  /// Call right after a failed C call, holding the lock.
  static func innermostErrorMessage() -> String? {
    final class Box { var message: String? }
    let box = Box()
    _ = withExtendedLifetime(box) {
      H5Ewalk2(
        ch5_e_default(), H5E_WALK_UPWARD,
        { n, error, data in
          guard n == 0, let error, let data, let desc = error.pointee.desc else { return 0 }
          Unmanaged<Box>.fromOpaque(data).takeUnretainedValue().message = String(cString: desc)
          return 0
        }, Unmanaged.passUnretained(box).toOpaque())
    }
    return box.message.flatMap { $0.isEmpty ? nil : $0 }
  }
}

/// `true` when the HDF5 return code (hid_t, herr_t, htri_t, ssize_t) signals failure.
@inline(__always) func hdf5Failed<T: BinaryInteger>(_ code: T) -> Bool { code < 0 }
