internal import CHDF5
import Foundation

/// An open HDF5 file: groups, datasets and attributes addressed by absolute paths (`/generator/main.0.weight`).
///
/// Files are either opened read-only (``open(_:)``) or created (``create(_:)``). A created file is written
/// to `<path>.tmp-<pid>` beside `path`, and only ``commit()`` publishes it (flush, close, fsync, rename), so
/// a reader sees the previous complete file until the new one is complete. Dropping a created file without
/// committing removes the temporary file.
///
/// Every call into the C library is serialised through one process-wide lock and checked; failures throw
/// ``HDF5Error`` naming the file and the object. Paths may omit the leading `/`.
public final class HDF5File {
  /// The path given by the caller (the destination for created files).
  public let path: String
  /// `true` for files made by ``create(_:)`` until they are committed or closed.
  public var isWritable: Bool { temporaryPath != nil && isOpen }
  /// `false` once closed or committed.
  public private(set) var isOpen: Bool

  let id: hid_t
  /// Where a created file is being written; `nil` for files opened read-only.
  private let temporaryPath: String?
  private var committed = false

  private init(path: String, id: hid_t, temporaryPath: String?) {
    self.path = path
    self.id = id
    self.temporaryPath = temporaryPath
    self.isOpen = true
  }

  deinit { close() }

  /// Opens an existing file read-only.
  /// - Throws: ``HDF5Error`` with `.fileNotFound`, `.notHDF5`, or `.callFailed`.
  public static func open(_ path: String) throws -> HDF5File {
    try HDF5Library.locked {
      guard FileManager.default.fileExists(atPath: path) else {
        throw HDF5Error(file: path, reason: .fileNotFound)
      }
      let isHDF5 = H5Fis_hdf5(path)
      if isHDF5 == 0 { throw HDF5Error(file: path, reason: .notHDF5) }
      if isHDF5 < 0 {
        throw HDF5Error(
          file: path, reason: .callFailed(function: "H5Fis_hdf5", detail: HDF5Library.innermostErrorMessage()))
      }
      let access = try fileAccessList(path)
      defer { H5Pclose(access) }
      let id = H5Fopen(path, ch5_f_acc_rdonly(), access)
      if id < 0 {
        var detail = HDF5Library.innermostErrorMessage()
        if let d = detail, d.contains("unable to lock") {
          detail = d + "; on a filesystem without file locking set HDF5_USE_FILE_LOCKING=FALSE"
        }
        throw HDF5Error(file: path, reason: .callFailed(function: "H5Fopen", detail: detail))
      }
      return HDF5File(path: path, id: id, temporaryPath: nil)
    }
  }

  /// Whether this process may create files. An MPI job clears it on every rank but 0, so that only one
  /// process ever opens a file for writing (two writers of one HDF5 file corrupt it, and shared
  /// filesystems may not lock); a violation is then an error instead of a race.
  nonisolated(unsafe) public static var creationAllowed = true

  /// Starts writing a new file that will replace `path` on ``commit()``.
  /// - Throws: ``HDF5Error`` if the folder does not exist or the temporary file cannot be created, or
  ///   if ``creationAllowed`` is off.
  public static func create(_ path: String) throws -> HDF5File {
    guard creationAllowed else {
      throw HDF5Error(file: path, reason: .system("only rank 0 creates files in an MPI job (a bug: please report)"))
    }
    return try HDF5Library.locked {
      do {
        try AtomicFile.requireFolder(of: path)
      } catch let error as FileError {
        throw HDF5Error(file: path, reason: .system(error.message))
      }
      let temporary = AtomicFile.temporaryPath(for: path)
      let access = try fileAccessList(path)
      defer { H5Pclose(access) }
      // The 1.8+ format checksums the superblock, object headers and B-trees, so a flipped bit in the
      // metadata is reported instead of misread (HDF5 ≥ 1.8, and so every h5py, reads it).
      guard H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0 else {
        throw HDF5Error(
          file: path,
          reason: .callFailed(function: "H5Pset_libver_bounds", detail: HDF5Library.innermostErrorMessage()))
      }
      let id = H5Fcreate(temporary, ch5_f_acc_trunc(), ch5_p_default(), access)
      if id < 0 {
        throw HDF5Error(
          file: path, reason: .callFailed(function: "H5Fcreate", detail: HDF5Library.innermostErrorMessage()))
      }
      return HDF5File(path: path, id: id, temporaryPath: temporary)
    }
  }

  /// File-access properties: closing the file also closes any object still open in it.
  private static func fileAccessList(_ path: String) throws -> hid_t {
    let access = H5Pcreate(ch5_p_file_access())
    guard access >= 0, H5Pset_fclose_degree(access, H5F_CLOSE_STRONG) >= 0 else {
      if access >= 0 { H5Pclose(access) }
      throw HDF5Error(
        file: path, reason: .callFailed(function: "H5Pcreate", detail: HDF5Library.innermostErrorMessage()))
    }
    return access
  }

  /// Flushes and closes a created file, fsyncs it and atomically renames it onto ``path``.
  ///
  /// The previous file at ``path`` stays valid until this returns. On failure the temporary file is
  /// removed and ``path`` is untouched.
  public func commit() throws {
    guard let temporaryPath else { throw HDF5Error(file: path, reason: .notWritable) }
    guard isOpen else { throw HDF5Error(file: path, reason: .closed) }
    try HDF5Library.locked {
      try check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush")
      isOpen = false
      try check(H5Fclose(id), "H5Fclose")
    }
    do {
      try AtomicFile.publish(temporaryPath, as: path)
    } catch let error as FileError {
      unlink(temporaryPath)
      throw HDF5Error(file: path, reason: .system(error.description))
    }
    committed = true
  }

  /// Closes the file. A created file that was not committed is discarded (its temporary file removed).
  /// Closing twice is harmless.
  public func close() {
    HDF5Library.locked {
      if isOpen {
        H5Fclose(id)
        isOpen = false
      }
    }
    if let temporaryPath, !committed { unlink(temporaryPath) }
  }

  // MARK: - Checking

  /// Returns `code` unless it signals failure, in which case throws naming the file, `object` and the
  /// innermost HDF5 message. Call holding the library lock.
  @discardableResult
  func check<T: BinaryInteger>(_ code: T, _ function: String, _ object: @autoclosure () -> String = "")
    throws -> T
  {
    guard code >= 0 else {
      throw HDF5Error(
        file: path, object: object(),
        reason: .callFailed(function: function, detail: HDF5Library.innermostErrorMessage()))
    }
    return code
  }

  func requireOpen(_ object: @autoclosure () -> String = "") throws {
    guard isOpen else { throw HDF5Error(file: path, object: object(), reason: .closed) }
  }

  func requireWritable(_ object: @autoclosure () -> String = "") throws {
    guard isWritable else { throw HDF5Error(file: path, object: object(), reason: .notWritable) }
  }

  /// `path` as an absolute HDF5 path without a trailing slash (`"a/b/"` → `"/a/b"`, `""` → `"/"`).
  static func normalise(_ path: String) -> String {
    let parts = path.split(separator: "/", omittingEmptySubsequences: true)
    return "/" + parts.joined(separator: "/")
  }

  // MARK: - Groups and objects

  /// The kind of object at an absolute path, or `nil` if nothing is there. Call holding the lock.
  func kind(at absolute: String) -> H5I_type_t? {
    guard isOpen else { return nil }
    if absolute != "/" {
      // H5Lexists fails on a missing intermediate group, so test each prefix.
      var prefix = ""
      for part in absolute.split(separator: "/") {
        prefix += "/" + part
        if H5Lexists(id, prefix, ch5_p_default()) <= 0 { return nil }
      }
    }
    let object = H5Oopen(id, absolute, ch5_p_default())
    guard object >= 0 else { return nil }
    defer { H5Oclose(object) }
    return H5Iget_type(object)
  }

  /// A human name for an object kind, used in errors.
  static func describe(_ kind: H5I_type_t?) -> String {
    switch kind {
    case .none: return "nothing"
    case .some(H5I_GROUP): return "a group"
    case .some(H5I_DATASET): return "a dataset"
    case .some(H5I_DATATYPE): return "a named datatype"
    default: return "another object"
    }
  }

  /// Whether a group, dataset or other object exists at `path`.
  public func exists(_ path: String) -> Bool {
    HDF5Library.locked { kind(at: Self.normalise(path)) != nil }
  }

  /// Whether `path` names a dataset.
  public func isDataset(_ path: String) -> Bool {
    HDF5Library.locked { kind(at: Self.normalise(path)) == H5I_DATASET }
  }

  /// Whether `path` names a group (the root `/` is a group).
  public func isGroup(_ path: String) -> Bool {
    HDF5Library.locked { kind(at: Self.normalise(path)) == H5I_GROUP }
  }

  /// Link-creation properties that create missing intermediate groups. Call holding the lock.
  func intermediateGroupsList(_ object: @autoclosure () -> String) throws -> hid_t {
    let list = try check(H5Pcreate(ch5_p_link_create()), "H5Pcreate", object())
    do {
      try check(H5Pset_create_intermediate_group(list, 1), "H5Pset_create_intermediate_group", object())
    } catch {
      H5Pclose(list)
      throw error
    }
    return list
  }

  /// Creates the group at `path` and any missing groups above it; does nothing if the group exists.
  public func createGroup(_ path: String) throws {
    let absolute = Self.normalise(path)
    let object = "group \(absolute)"
    try HDF5Library.locked {
      try requireWritable(object)
      switch kind(at: absolute) {
      case .none: break
      case .some(H5I_GROUP): return
      case let other:
        throw HDF5Error(
          file: self.path, object: object, reason: .wrongType(expected: "a group", found: Self.describe(other)))
      }
      let links = try intermediateGroupsList(object)
      defer { H5Pclose(links) }
      let group = try check(
        H5Gcreate2(id, absolute, links, ch5_p_default(), ch5_p_default()), "H5Gcreate2", object)
      H5Gclose(group)
    }
  }

  /// The names (not paths) of the objects directly inside the group at `path`, sorted.
  public func members(of path: String = "/") throws -> [String] {
    let absolute = Self.normalise(path)
    let object = "group \(absolute)"
    return try HDF5Library.locked {
      try requireOpen(object)
      let kind = kind(at: absolute)
      guard kind == H5I_GROUP else {
        throw HDF5Error(
          file: self.path, object: object,
          reason: kind == nil ? .notFound : .wrongType(expected: "a group", found: Self.describe(kind)))
      }
      let group = try check(H5Gopen2(id, absolute, ch5_p_default()), "H5Gopen2", object)
      defer { H5Gclose(group) }
      // Native order, sorted here: HDF5 1.10 builds a table for any other order of a large ("dense") group
      // and, when a corrupted file fails that, frees uninitialised entries (a segfault). Native order walks
      // the index directly.
      final class Names { var list: [String] = [] }
      let names = Names()
      var index: hsize_t = 0
      try withExtendedLifetime(names) {
        _ = try check(
          H5Literate(
            group, H5_INDEX_NAME, H5_ITER_NATIVE, &index,
            { _, name, _, data in
              guard let name, let data else { return -1 }
              Unmanaged<Names>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
              return 0
            }, Unmanaged.passUnretained(names).toOpaque()), "H5Literate", object)
      }
      return names.list.sorted()
    }
  }
}
