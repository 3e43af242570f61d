import Foundation

/// Writing a file so that readers see either the previous complete file or the new complete file, never a
/// half-written one: write to `<path>.tmp-<pid>` in the same folder, fsync, rename onto `path`, fsync the
/// folder.
enum AtomicFile {
  /// The temporary sibling of `path` used while writing it.
  static func temporaryPath(for path: String) -> String { "\(path).tmp-\(getpid())" }

  /// The folder holding `path` ("." for a bare file name).
  static func folder(of path: String) -> String {
    let folder = (path as NSString).deletingLastPathComponent
    return folder.isEmpty ? "." : folder
  }

  /// Throws unless the folder that will hold `path` exists.
  static func requireFolder(of path: String) throws {
    var isDirectory: ObjCBool = false
    let folder = folder(of: path)
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue
    else { throw FileError(path: path, operation: "create", message: "folder \(folder) does not exist") }
  }

  /// Fsyncs the finished temporary file, renames it onto `path` and fsyncs the folder.
  static func publish(_ temporary: String, as path: String) throws {
    let fd = open(temporary, O_RDONLY)
    guard fd >= 0 else { throw FileError.errno(temporary, "open") }
    let synced = fsync(fd)
    let syncError = FileError.errno(temporary, "fsync")
    close(fd)
    guard synced == 0 else { throw syncError }
    guard rename(temporary, path) == 0 else { throw FileError.errno(path, "rename") }
    // Make the rename itself durable; some filesystems refuse fsync on folders, which is harmless here.
    let dir = open(folder(of: path), O_RDONLY | O_DIRECTORY)
    if dir >= 0 {
      _ = fsync(dir)
      close(dir)
    }
  }

  /// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
  static func write(_ bytes: [UInt8], to path: String) throws {
    try requireFolder(of: path)
    let temporary = temporaryPath(for: path)
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileError.errno(path, "create") }
    var written = 0
    let failure: FileError? = bytes.withUnsafeBytes { raw in
      while written < raw.count {
        let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          return FileError.errno(path, "write")
        }
        written += n
      }
      return nil
    }
    close(fd)
    do {
      if let failure { throw failure }
      try publish(temporary, as: path)
    } catch {
      unlink(temporary)
      throw error
    }
  }
}
