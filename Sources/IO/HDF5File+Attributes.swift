internal import CHDF5
import Foundation

/// Attributes on the root (`/`, the default) or on any group or dataset: strings (written as fixed-length
/// UTF-8; variable-length ones, h5py's default, are read too), int64, float64 and float64 arrays. Writing an
/// attribute that exists replaces it.
extension HDF5File {
  // MARK: Writing

  /// Writes a string attribute, fixed-length UTF-8 unless `fixedLength` is false.
  ///
  /// Fixed-length strings live inside the checksummed attribute message. A variable-length string lives in
  /// the file's global heap, which has no checksum, and HDF5 1.10 segfaults reading a corrupted one.
  public func setAttribute(_ name: String, _ value: String, on path: String = "/", fixedLength: Bool = true)
    throws
  {
    try HDF5Library.locked {
      let (object, label) = try openForAttribute(name, on: path, writing: true)
      defer { H5Oclose(object) }
      let type = try check(H5Tcopy(ch5_c_s1()), "H5Tcopy", label)
      defer { H5Tclose(type) }
      let utf8 = Array(value.utf8)
      try check(H5Tset_size(type, fixedLength ? max(utf8.count, 1) : ch5_variable()), "H5Tset_size", label)
      try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", label)
      try check(H5Tset_strpad(type, fixedLength ? H5T_STR_NULLPAD : H5T_STR_NULLTERM), "H5Tset_strpad", label)
      if fixedLength {
        var bytes = utf8.isEmpty ? [UInt8(0)] : utf8
        try createAttribute(name, on: object, label: label, shape: [], type: type) { attribute in
          H5Awrite(attribute, type, &bytes)
        }
      } else {
        try value.withCString { cString in
          var pointer: UnsafePointer<CChar>? = cString
          try createAttribute(name, on: object, label: label, shape: [], type: type) { attribute in
            H5Awrite(attribute, type, &pointer)
          }
        }
      }
    }
  }

  /// Writes an int64 scalar attribute.
  public func setAttribute(_ name: String, _ value: Int64, on path: String = "/") throws {
    try setNumbers(name, [value], shape: [], on: path, file: ch5_std_i64le, memory: ch5_native_int64)
  }

  /// Writes an int64 scalar attribute (so integer literals need no annotation).
  public func setAttribute(_ name: String, _ value: Int, on path: String = "/") throws {
    try setAttribute(name, Int64(value), on: path)
  }

  /// Writes a float64 scalar attribute.
  public func setAttribute(_ name: String, _ value: Double, on path: String = "/") throws {
    try setNumbers(name, [value], shape: [], on: path, file: ch5_ieee_f64le, memory: ch5_native_double)
  }

  /// Writes a one-dimensional float64 attribute.
  public func setAttribute(_ name: String, _ values: [Double], on path: String = "/") throws {
    try setNumbers(name, values, shape: [values.count], on: path, file: ch5_ieee_f64le, memory: ch5_native_double)
  }

  private func setNumbers<T>(
    _ name: String, _ values: [T], shape: [Int], on path: String, file: () -> hid_t, memory: () -> hid_t
  ) throws {
    try HDF5Library.locked {
      let (object, label) = try openForAttribute(name, on: path, writing: true)
      defer { H5Oclose(object) }
      try values.withUnsafeBytes { raw in
        try createAttribute(name, on: object, label: label, shape: shape, type: file()) { attribute in
          raw.isEmpty ? 0 : H5Awrite(attribute, memory(), raw.baseAddress)
        }
      }
    }
  }

  /// Replaces any attribute `name` on `object` with a new one of `shape` and file `type`, then calls
  /// `write` with the attribute id. Call holding the lock.
  private func createAttribute(
    _ name: String, on object: hid_t, label: String, shape: [Int], type: hid_t, write: (hid_t) -> herr_t
  ) throws {
    if try check(H5Aexists(object, name), "H5Aexists", label) > 0 {
      try check(H5Adelete(object, name), "H5Adelete", label)
    }
    let dims = shape.map { hsize_t($0) }
    let space = try check(
      shape.isEmpty ? ch5_s_scalar_create() : H5Screate_simple(Int32(dims.count), dims, nil), "H5Screate", label)
    defer { H5Sclose(space) }
    let attribute = try check(
      H5Acreate2(object, name, type, space, ch5_p_default(), ch5_p_default()), "H5Acreate2", label)
    defer { H5Aclose(attribute) }
    try check(write(attribute), "H5Awrite", label)
  }

  // MARK: Reading

  /// Reads a string attribute (variable- or fixed-length).
  public func stringAttribute(_ name: String, of path: String = "/") throws -> String {
    try HDF5Library.locked {
      let (attribute, label) = try openAttribute(name, of: path)
      defer { H5Aclose(attribute) }
      let type = try check(H5Aget_type(attribute), "H5Aget_type", label)
      defer { H5Tclose(type) }
      let typeClass = H5Tget_class(type)
      guard typeClass == H5T_STRING else {
        throw HDF5Error(
          file: self.path, object: label, reason: .wrongType(expected: "a string", found: Self.describe(typeClass)))
      }
      try requireSingleElement(attribute, label)
      if try check(H5Tis_variable_str(type), "H5Tis_variable_str", label) > 0 {
        let memory = try check(H5Tcopy(ch5_c_s1()), "H5Tcopy", label)
        defer { H5Tclose(memory) }
        try check(H5Tset_size(memory, ch5_variable()), "H5Tset_size", label)
        try check(H5Tset_cset(memory, H5Tget_cset(type)), "H5Tset_cset", label)
        var pointer: UnsafeMutablePointer<CChar>? = nil
        try check(H5Aread(attribute, memory, &pointer), "H5Aread", label)
        defer { if pointer != nil { H5free_memory(pointer) } }
        return pointer.map { String(cString: $0) } ?? ""
      }
      let size = H5Tget_size(type)
      guard size > 0 else {
        throw HDF5Error(file: self.path, object: label, reason: .callFailed(function: "H5Tget_size", detail: nil))
      }
      var bytes = [UInt8](repeating: 0, count: size)
      try check(H5Aread(attribute, type, &bytes), "H5Aread", label)
      var end = bytes.firstIndex(of: 0) ?? bytes.count
      if H5Tget_strpad(type) == H5T_STR_SPACEPAD {
        while end > 0, bytes[end - 1] == 0x20 { end -= 1 }
      }
      return String(decoding: bytes[..<end], as: UTF8.self)
    }
  }

  /// Reads a scalar integer attribute.
  public func int64Attribute(_ name: String, of path: String = "/") throws -> Int64 {
    let values: [Int64] = try readNumbers(name, of: path, memory: ch5_native_int64, integerOnly: true)
    guard values.count == 1 else { throw notScalar(name, path, values.count) }
    return values[0]
  }

  /// Reads a scalar numeric attribute as float64.
  public func doubleAttribute(_ name: String, of path: String = "/") throws -> Double {
    let values: [Double] = try readNumbers(name, of: path, memory: ch5_native_double, integerOnly: false)
    guard values.count == 1 else { throw notScalar(name, path, values.count) }
    return values[0]
  }

  /// Reads a numeric attribute of any shape as float64, row-major.
  public func doublesAttribute(_ name: String, of path: String = "/") throws -> [Double] {
    try readNumbers(name, of: path, memory: ch5_native_double, integerOnly: false)
  }

  /// The names of the attributes of the object at `path`, sorted.
  public func attributeNames(of path: String = "/") throws -> [String] {
    try HDF5Library.locked {
      let absolute = Self.normalise(path)
      let label = "object \(absolute)"
      let object = try openObject(absolute, label)
      defer { H5Oclose(object) }
      final class Names { var list: [String] = [] }
      let names = Names()
      try withExtendedLifetime(names) {
        _ = try check(
          H5Aiterate2(
            object, H5_INDEX_NAME, H5_ITER_NATIVE, nil,  // native: see members(of:)
            { _, name, _, data in
              guard let name, let data else { return -1 }
              Unmanaged<Names>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
              return 0
            }, Unmanaged.passUnretained(names).toOpaque()), "H5Aiterate2", label)
      }
      return names.list.sorted()
    }
  }

  /// Whether the object at `path` exists and has an attribute `name`.
  public func hasAttribute(_ name: String, on path: String = "/") -> Bool {
    HDF5Library.locked {
      let absolute = Self.normalise(path)
      guard kind(at: absolute) != nil else { return false }
      let object = H5Oopen(id, absolute, ch5_p_default())
      guard object >= 0 else { return false }
      defer { H5Oclose(object) }
      return H5Aexists(object, name) > 0
    }
  }

  // MARK: Helpers (call holding the lock)

  private func readNumbers<T: Numeric>(_ name: String, of path: String, memory: () -> hid_t, integerOnly: Bool)
    throws -> [T]
  {
    try HDF5Library.locked {
      let (attribute, label) = try openAttribute(name, of: path)
      defer { H5Aclose(attribute) }
      let type = try check(H5Aget_type(attribute), "H5Aget_type", label)
      let typeClass = H5Tget_class(type)
      H5Tclose(type)
      let allowed = integerOnly ? [H5T_INTEGER] : [H5T_INTEGER, H5T_FLOAT]
      guard allowed.contains(typeClass) else {
        throw HDF5Error(
          file: self.path, object: label,
          reason: .wrongType(expected: integerOnly ? "integers" : "numbers", found: Self.describe(typeClass)))
      }
      let space = try check(H5Aget_space(attribute), "H5Aget_space", label)
      let count = H5Sget_simple_extent_npoints(space)
      H5Sclose(space)
      try check(count, "H5Sget_simple_extent_npoints", label)
      var values = [T](repeating: 0, count: Int(count))
      if count > 0 {
        try values.withUnsafeMutableBytes { raw in
          _ = try check(H5Aread(attribute, memory(), raw.baseAddress), "H5Aread", label)
        }
      }
      return values
    }
  }

  private func notScalar(_ name: String, _ path: String, _ count: Int) -> HDF5Error {
    HDF5Error(
      file: self.path, object: "attribute \(name) of \(Self.normalise(path))",
      reason: .wrongShape(expected: [], found: [count]))
  }

  private func requireSingleElement(_ attribute: hid_t, _ label: String) throws {
    let space = try check(H5Aget_space(attribute), "H5Aget_space", label)
    defer { H5Sclose(space) }
    let count = try check(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints", label)
    guard count == 1 else {
      throw HDF5Error(file: path, object: label, reason: .wrongShape(expected: [], found: [Int(count)]))
    }
  }

  /// Opens the object at an absolute path, throwing `.notFound` if it does not exist.
  private func openObject(_ absolute: String, _ label: String) throws -> hid_t {
    try requireOpen(label)
    guard kind(at: absolute) != nil else {
      throw HDF5Error(file: path, object: "object \(absolute)", reason: .notFound)
    }
    return try check(H5Oopen(id, absolute, ch5_p_default()), "H5Oopen", label)
  }

  private func openForAttribute(_ name: String, on path: String, writing: Bool) throws -> (hid_t, String) {
    let absolute = Self.normalise(path)
    let label = "attribute \(name) of \(absolute)"
    if writing { try requireWritable(label) }
    return (try openObject(absolute, label), label)
  }

  private func openAttribute(_ name: String, of path: String) throws -> (hid_t, String) {
    let (object, label) = try openForAttribute(name, on: path, writing: false)
    defer { H5Oclose(object) }
    guard try check(H5Aexists(object, name), "H5Aexists", label) > 0 else {
      throw HDF5Error(file: self.path, object: label, reason: .notFound)
    }
    return (try check(H5Aopen(object, name, ch5_p_default()), "H5Aopen", label), label)
  }
}
