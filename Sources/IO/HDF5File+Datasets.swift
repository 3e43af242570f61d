internal import CHDF5
import Foundation
import Tensor

/// Datasets: n-dimensional arrays stored little-endian (float32, float64, int64, uint8). Shape `[]` is a
/// scalar dataset. Reading converts between numeric types as HDF5 does (e.g. int64 → Float).
extension HDF5File {
  // MARK: Writing

  /// Writes `tensor` (with its shape) as a float32 dataset at `path`, creating missing groups.
  /// - Parameter compressionLevel: gzip level 1...9, or 0 for none.
  public func write(_ tensor: Tensor, to path: String, compressionLevel: Int = 0) throws {
    try HDF5Library.locked {
      try createDataset(
        path, shape: tensor.shape, fileType: ch5_ieee_f32le(), memoryType: ch5_native_float(),
        compressionLevel: compressionLevel, data: UnsafeRawPointer(tensor.pointer))
    }
  }

  /// Writes `values` (row-major, `shape.reduce(1, *)` of them) as a float32 dataset.
  public func write(_ values: [Float], shape: [Int], to path: String, compressionLevel: Int = 0) throws {
    try write(values, shape: shape, to: path, compressionLevel, file: ch5_ieee_f32le, memory: ch5_native_float)
  }

  /// Writes `values` as a float64 dataset.
  public func write(_ values: [Double], shape: [Int], to path: String, compressionLevel: Int = 0) throws {
    try write(values, shape: shape, to: path, compressionLevel, file: ch5_ieee_f64le, memory: ch5_native_double)
  }

  /// Writes `values` as an int64 dataset.
  public func write(_ values: [Int64], shape: [Int], to path: String, compressionLevel: Int = 0) throws {
    try write(values, shape: shape, to: path, compressionLevel, file: ch5_std_i64le, memory: ch5_native_int64)
  }

  /// Writes `values` as a uint8 dataset.
  public func write(_ values: [UInt8], shape: [Int], to path: String, compressionLevel: Int = 0) throws {
    try write(values, shape: shape, to: path, compressionLevel, file: ch5_std_u8le, memory: ch5_native_uint8)
  }

  private func write<T>(
    _ values: [T], shape: [Int], to path: String, _ compressionLevel: Int, file: () -> hid_t,
    memory: () -> hid_t
  ) throws {
    precondition(
      values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape) at \(path)")
    try HDF5Library.locked {
      try values.withUnsafeBytes { raw in
        try createDataset(
          path, shape: shape, fileType: file(), memoryType: memory(), compressionLevel: compressionLevel,
          data: raw.baseAddress)
      }
    }
  }

  /// Creates the dataset and writes `data` (which holds `shape.reduce(1, *)` elements of `memoryType`).
  /// Call holding the lock.
  private func createDataset(
    _ path: String, shape: [Int], fileType: hid_t, memoryType: hid_t, compressionLevel: Int,
    data: UnsafeRawPointer?
  ) throws {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape) at \(path)")
    precondition((0...9).contains(compressionLevel), "gzip level \(compressionLevel) is not in 0...9")
    let absolute = Self.normalise(path)
    let object = "dataset \(absolute)"
    try requireWritable(object)
    if let existing = kind(at: absolute) {
      throw HDF5Error(
        file: self.path, object: object,
        reason: existing == H5I_DATASET
          ? .alreadyExists : .wrongType(expected: "nothing", found: Self.describe(existing)))
    }
    let dims = shape.map { hsize_t($0) }
    let space = try check(
      shape.isEmpty ? ch5_s_scalar_create() : H5Screate_simple(Int32(dims.count), dims, nil), "H5Screate",
      object)
    defer { H5Sclose(space) }
    let count = shape.reduce(1, *)
    var creation = ch5_p_default()
    if !shape.isEmpty, count > 0, count * H5Tget_size(fileType) < 1 << 32 {
      // One chunk per dataset (chunks hold < 4 GiB): our arrays are small enough, and it keeps whole-array
      // reads a single inflate. Fletcher-32 checksums the data, so a flipped bit fails the read.
      creation = try check(H5Pcreate(ch5_p_dataset_create()), "H5Pcreate", object)
      try check(H5Pset_chunk(creation, Int32(dims.count), dims), "H5Pset_chunk", object)
      try check(H5Pset_fletcher32(creation), "H5Pset_fletcher32", object)
      if compressionLevel > 0 {
        try check(H5Pset_deflate(creation, UInt32(compressionLevel)), "H5Pset_deflate", object)
      }
    }
    defer { if creation != ch5_p_default() { H5Pclose(creation) } }
    let links = try intermediateGroupsList(object)
    defer { H5Pclose(links) }
    let dataset = try check(
      H5Dcreate2(id, absolute, fileType, space, links, creation, ch5_p_default()), "H5Dcreate2", object)
    defer { H5Dclose(dataset) }
    if count > 0 {
      try check(
        H5Dwrite(dataset, memoryType, ch5_s_all(), ch5_s_all(), ch5_p_default(), data), "H5Dwrite", object)
    }
  }

  // MARK: Reading

  /// The shape of the dataset at `path` (`[]` for a scalar dataset).
  public func shape(of path: String) throws -> [Int] {
    try HDF5Library.locked {
      let (dataset, shape, _) = try openDataset(path)
      H5Dclose(dataset)
      return shape
    }
  }

  /// Reads a numeric dataset as a float32 tensor of its shape (scalar datasets give shape `[]`).
  public func readFloats(_ path: String) throws -> Tensor {
    try HDF5Library.locked {
      let (dataset, shape, object) = try openDataset(path, numeric: true)
      defer { H5Dclose(dataset) }
      let tensor = Tensor(shape: shape)
      if tensor.count > 0 {
        try check(
          H5Dread(dataset, ch5_native_float(), ch5_s_all(), ch5_s_all(), ch5_p_default(), tensor.pointer),
          "H5Dread", object)
      }
      return tensor
    }
  }

  /// Reads a numeric dataset into `tensor`, whose shape must equal the dataset's (no allocation).
  public func read(_ path: String, into tensor: Tensor) throws {
    try HDF5Library.locked {
      let (dataset, shape, object) = try openDataset(path, numeric: true)
      defer { H5Dclose(dataset) }
      guard shape == tensor.shape else {
        throw HDF5Error(file: self.path, object: object, reason: .wrongShape(expected: tensor.shape, found: shape))
      }
      if tensor.count > 0 {
        try check(
          H5Dread(dataset, ch5_native_float(), ch5_s_all(), ch5_s_all(), ch5_p_default(), tensor.pointer),
          "H5Dread", object)
      }
    }
  }

  /// Reads a numeric dataset as float64, row-major.
  public func readDoubles(_ path: String) throws -> [Double] {
    try readArray(path, memory: ch5_native_double, integerOnly: false)
  }

  /// Reads an integer dataset as int64, row-major.
  public func readInt64(_ path: String) throws -> [Int64] {
    try readArray(path, memory: ch5_native_int64, integerOnly: true)
  }

  /// Reads an integer dataset as uint8, row-major (HDF5 clamps out-of-range values).
  public func readUInt8(_ path: String) throws -> [UInt8] {
    try readArray(path, memory: ch5_native_uint8, integerOnly: true)
  }

  private func readArray<T: Numeric>(_ path: String, memory: () -> hid_t, integerOnly: Bool) throws -> [T] {
    try HDF5Library.locked {
      let (dataset, shape, object) = try openDataset(path, numeric: true, integerOnly: integerOnly)
      defer { H5Dclose(dataset) }
      var values = [T](repeating: 0, count: shape.reduce(1, *))
      if !values.isEmpty {
        try values.withUnsafeMutableBytes { raw in
          _ = try check(
            H5Dread(dataset, memory(), ch5_s_all(), ch5_s_all(), ch5_p_default(), raw.baseAddress), "H5Dread",
            object)
        }
      }
      return values
    }
  }

  /// Opens the dataset at `path`, checking it exists and (optionally) holds numbers; returns its id (to
  /// close), shape and name for errors. Call holding the lock.
  private func openDataset(_ path: String, numeric: Bool = false, integerOnly: Bool = false) throws -> (
    hid_t, [Int], String
  ) {
    let absolute = Self.normalise(path)
    let object = "dataset \(absolute)"
    try requireOpen(object)
    let kind = kind(at: absolute)
    guard kind == H5I_DATASET else {
      throw HDF5Error(
        file: self.path, object: object,
        reason: kind == nil ? .notFound : .wrongType(expected: "a dataset", found: Self.describe(kind)))
    }
    let dataset = try check(H5Dopen2(id, absolute, ch5_p_default()), "H5Dopen2", object)
    do {
      if numeric {
        let type = try check(H5Dget_type(dataset), "H5Dget_type", object)
        let typeClass = H5Tget_class(type)
        H5Tclose(type)
        let allowed = integerOnly ? [H5T_INTEGER] : [H5T_INTEGER, H5T_FLOAT]
        guard allowed.contains(typeClass) else {
          throw HDF5Error(
            file: self.path, object: object,
            reason: .wrongType(
              expected: integerOnly ? "integers" : "numbers", found: Self.describe(typeClass)))
        }
      }
      let space = try check(H5Dget_space(dataset), "H5Dget_space", object)
      defer { H5Sclose(space) }
      let rank = try check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", object)
      var dims = [hsize_t](repeating: 0, count: Int(rank))
      if rank > 0 {
        try check(H5Sget_simple_extent_dims(space, &dims, nil), "H5Sget_simple_extent_dims", object)
      }
      try checkPlausibleExtent(dims, dataset: dataset, object: object)
      return (dataset, dims.map { Int($0) }, object)
    } catch {
      H5Dclose(dataset)
      throw error
    }
  }

  /// Throws unless the dataset's element count is something this file can hold: a corrupted header can
  /// announce petabytes, and allocating that before `H5Dread` notices would end the process. The bound is
  /// the file size times gzip's best ratio (~1032:1), plus 64 MiB for datasets that were never written
  /// (which read as fill values). Call holding the lock.
  private func checkPlausibleExtent(_ dims: [hsize_t], dataset: hid_t, object: String) throws {
    var count: UInt64 = 1
    var overflow = false
    for d in dims {
      (count, overflow) = count.multipliedReportingOverflow(by: UInt64(d))
      if overflow { break }
    }
    var fileSize: hsize_t = 0
    try check(H5Fget_filesize(id, &fileSize), "H5Fget_filesize", object)
    let type = try check(H5Dget_type(dataset), "H5Dget_type", object)
    let elementSize = UInt64(max(1, H5Tget_size(type)))
    H5Tclose(type)
    let limit = UInt64(fileSize).multipliedReportingOverflow(by: 1100).partialValue + (64 << 20)
    let bytes = count.multipliedReportingOverflow(by: elementSize)
    guard !overflow, !bytes.overflow, bytes.partialValue <= limit, count <= UInt64(Int.max / 8) else {
      throw HDF5Error(
        file: self.path, object: object,
        reason: .invalidContent(
          "shape \(dims) is larger than a \(fileSize)-byte file can hold (corrupted file?)"))
    }
  }

  /// A human name for a datatype class, used in errors.
  static func describe(_ typeClass: H5T_class_t) -> String {
    switch typeClass {
    case H5T_INTEGER: return "integers"
    case H5T_FLOAT: return "floating-point numbers"
    case H5T_STRING: return "strings"
    case H5T_COMPOUND: return "a compound type"
    case H5T_ENUM: return "an enum"
    case H5T_ARRAY: return "an array type"
    case H5T_VLEN: return "a variable-length type"
    default: return "another datatype"
    }
  }
}
