#!/usr/bin/env python3
"""Writes Tests/Fixtures/converted_dcgan28*.h5: a DCGAN trained for a few steps in PyTorch (the tutorial's
module layout, narrow widths), saved as .pt state_dicts, converted with tools/convert.py, plus latents and
the images PyTorch renders from them in eval mode. The Swift test runs `unlearn sample` on the converted file
and compares with PyTorch's images (issue: "a generator trained in PyTorch, converted with the tool, renders
through unlearn sample to the same images PyTorch renders").

  python3 tools/make_converted_fixture.py        # needs torch, h5py and ../shared/data/mnist
"""
import gzip, json, os, subprocess, sys, tempfile

import h5py
import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import unlearn_torch as U  # noqa: E402

root = os.path.dirname(here)
out_dir = os.path.join(root, "Tests", "Fixtures")
arch = {"family": "dcgan", "latent_dim": 100, "channels": 1, "base_size": 7, "widths": [24, 12]}

torch.manual_seed(20261204)
nets = U.build(arch)
G, D = nets["generator"], nets["discriminator"]
U.dcgan_init_(G)
U.dcgan_init_(D)

with gzip.open(os.path.join(root, "..", "shared", "data", "mnist", "t10k-images-idx3-ubyte.gz")) as fh:
    raw = np.frombuffer(fh.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
real = torch.from_numpy(raw[:512].astype(np.float32) / 127.5 - 1)

opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
bce = torch.nn.BCEWithLogitsLoss()
for step in range(30):  # the PyTorch DCGAN tutorial's loop, briefly
    x = real[(step * 32) % 512:(step * 32) % 512 + 32]
    z = torch.randn(32, 100, 1, 1)
    fake = G(z)
    opt_d.zero_grad()
    loss_d = bce(D(x).view(-1), torch.ones(32)) + bce(D(fake.detach()).view(-1), torch.zeros(32))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = bce(D(fake).view(-1), torch.ones(32))
    loss_g.backward()
    opt_g.step()

with tempfile.TemporaryDirectory() as tmp:
    torch.save(G.state_dict(), os.path.join(tmp, "G.pt"))
    torch.save(D.state_dict(), os.path.join(tmp, "D.pt"))
    model = os.path.join(out_dir, "converted_dcgan28.h5")
    subprocess.run([sys.executable, os.path.join(here, "convert.py"), "to-h5", "--arch", json.dumps(arch),
                    "--generator", os.path.join(tmp, "G.pt"), "--discriminator", os.path.join(tmp, "D.pt"),
                    "--out", model], check=True)

G.eval()
z = (torch.randn(16, 100) * 1024).round() / 1024
with torch.no_grad():
    images = G(z.view(16, 100, 1, 1)).numpy()
for name, dataset, array, fmt in [("converted_dcgan28_latents.h5", "z", z.numpy(), "unlearn.latents"),
                                  ("converted_dcgan28_images.h5", "images", images, "unlearn.images")]:
    with h5py.File(os.path.join(out_dir, name), "w", libver=U.LIBVER) as f:
        f.create_dataset(dataset, data=array.astype(np.float32))
        f.attrs["format"] = fmt
print("wrote converted_dcgan28{,_latents,_images}.h5; last losses D %.3f G %.3f" % (loss_d.item(), loss_g.item()))
