import CHDF5
import Testing

/// Every getter of Sources/CHDF5/shim.h, called from Swift and checked against what HDF5 documents.
@Suite("CHDF5 shim")
struct ShimTests {
  @Test func everyGetterReturnsAUsableValue() {
    ch5_silence_errors()
    #expect(ch5_p_default() == 0)
    #expect(ch5_s_all() == 0)
    #expect(ch5_e_default() == 0)
    let sizes: [(hid_t, Int)] = [
      (ch5_native_float(), 4), (ch5_native_double(), 8), (ch5_native_int64(), 8), (ch5_native_uint8(), 1),
      (ch5_ieee_f32le(), 4), (ch5_ieee_f64le(), 8), (ch5_std_i64le(), 8), (ch5_std_u8le(), 1), (ch5_c_s1(), 1),
    ]
    for (type, size) in sizes {
      #expect(type > 0)
      #expect(H5Tget_size(type) == size)
    }
    #expect(H5Tget_class(ch5_native_float()) == H5T_FLOAT)
    #expect(H5Tget_class(ch5_std_i64le()) == H5T_INTEGER)
    #expect(H5Tget_class(ch5_c_s1()) == H5T_STRING)
    #expect(H5Tget_order(ch5_ieee_f32le()) == H5T_ORDER_LE)
    #expect(H5Tget_sign(ch5_std_u8le()) == H5T_SGN_NONE)
    for list in [ch5_p_link_create(), ch5_p_dataset_create(), ch5_p_file_access()] {
      #expect(list > 0)
      let instance = H5Pcreate(list)
      #expect(instance > 0)
      #expect(H5Pclose(instance) >= 0)
    }
    let flags = [ch5_f_acc_rdonly(), ch5_f_acc_rdwr(), ch5_f_acc_trunc(), ch5_f_acc_excl()]
    #expect(Set(flags).count == 4)
    #expect(ch5_f_acc_rdonly() == 0)
    #expect(ch5_variable() == -1)  // H5T_VARIABLE is (size_t)-1; size_t imports as Int
    let scalar = ch5_s_scalar_create()
    #expect(scalar > 0)
    #expect(H5Sget_simple_extent_ndims(scalar) == 0)
    #expect(H5Sget_simple_extent_npoints(scalar) == 1)
    #expect(H5Sclose(scalar) >= 0)
  }
}
