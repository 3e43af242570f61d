// HDF5 property-list defaults, type ids and flags are macros (some expand to globals that exist only after
// H5open()); Swift cannot import them, so each is exposed once here as a `static inline` getter.
#pragma once
#include <hdf5.h>

static inline hid_t ch5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t ch5_s_all(void) { return H5S_ALL; }
static inline hid_t ch5_native_float(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t ch5_native_double(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t ch5_native_int64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t ch5_native_uint8(void) { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t ch5_ieee_f32le(void) { H5open(); return H5T_IEEE_F32LE; }
static inline hid_t ch5_ieee_f64le(void) { H5open(); return H5T_IEEE_F64LE; }
static inline hid_t ch5_std_i64le(void) { H5open(); return H5T_STD_I64LE; }
static inline hid_t ch5_std_u8le(void) { H5open(); return H5T_STD_U8LE; }
static inline hid_t ch5_c_s1(void) { H5open(); return H5T_C_S1; }
static inline hid_t ch5_p_link_create(void) { H5open(); return H5P_LINK_CREATE; }
static inline hid_t ch5_p_dataset_create(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t ch5_p_file_access(void) { H5open(); return H5P_FILE_ACCESS; }
static inline unsigned ch5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned ch5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned ch5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned ch5_f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline size_t ch5_variable(void) { return H5T_VARIABLE; }
static inline hid_t ch5_s_scalar_create(void) { return H5Screate(H5S_SCALAR); }
/// Turns off HDF5's automatic error-stack printing; the Swift layer reports errors itself.
static inline void ch5_silence_errors(void) { H5open(); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
/// The calling thread's default error stack (H5E_DEFAULT), for walking it after a failed call.
static inline hid_t ch5_e_default(void) { return H5E_DEFAULT; }
