"""Writes h5py_model.h5: a model file as h5py/PyTorch tooling writes it, read by IOTests to check interop.

Run from this folder: python3 make_h5py_fixture.py  (needs numpy and h5py).
"""
import h5py
import numpy as np

with h5py.File("h5py_model.h5", "w", track_order=False) as f:
    f.attrs["format"] = "unlearn.model"  # variable-length UTF-8
    f.attrs["format_version"] = np.int64(1)
    f.attrs["architecture"] = '{"family":"dcgan","latent_dim":2,"channels":1,"base_size":7,"widths":[3]}'
    f.attrs["fixed"] = np.bytes_(b"fixed ascii")  # fixed-length string
    f.attrs["ratio"] = np.float32(0.5)
    g = f.create_group("generator")
    g.create_dataset("main.0.weight", data=np.arange(2 * 3 * 7 * 7, dtype=np.float32).reshape(2, 3, 7, 7) / 100)
    g.create_dataset("main.1.weight", data=np.array([1.5, -2.0, 3.25], dtype=np.float64))
    g.create_dataset("main.1.bias", data=np.array([1, -2, 3], dtype=np.int32), compression="gzip")
    g.create_dataset("main.1.num_batches_tracked", data=np.int64(321))
    f.create_dataset("labels", data=np.array([0, 1, 1, 0], dtype=np.uint8))
