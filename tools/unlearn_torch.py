"""PyTorch twins of the project's networks, losses and model file format (docs/FIXTURES.md, DESIGN.md §4).

A tool only: the Swift package never needs Python. The modules here have exactly the `state_dict` keys and
shapes that the HDF5 model format stores, so a model file loads into them with `load_state_dict(strict=True)`
and a PyTorch checkpoint converts into a model file (tools/convert.py).

Architecture JSON (root attribute `architecture` of a model file):
  dcgan       {"family":"dcgan","latent_dim":nz,"channels":c,"base_size":b,"widths":[w0,w1,...]}
  classifier  {"family":"classifier","channels":c,"image_size":s,"widths":[w0,...],"hidden":h,"classes":k}
  vae         {"family":"vae","latent_dim":nz,"channels":c,"base_size":b,"widths":[...],
               "encoder_widths":[e0,...]}
Images are NCHW in [-1, 1]; latents enter generators as (N, nz, 1, 1) (a (N, nz) tensor is reshaped).
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_FORMAT = "unlearn.model"
MODEL_FORMAT_VERSION = 1
# HDF5 object format bounds for files we write: compact 1.8-style groups, readable by HDF5 >= 1.10 (Debian 12
# ships 1.10.8; h5py may bundle a newer library whose default format an old reader cannot open).
LIBVER = ("v108", "v110")

# Named architectures from DESIGN.md §4 and the lead's brief.
ARCHITECTURES: Dict[str, dict] = {
    "dcgan28": {"family": "dcgan", "latent_dim": 100, "channels": 1, "base_size": 7, "widths": [256, 128]},
    "dcgan64": {"family": "dcgan", "latent_dim": 100, "channels": 3, "base_size": 4, "widths": [512, 256, 128, 64]},
    "classifier28": {"family": "classifier", "channels": 1, "image_size": 28, "widths": [32, 64], "hidden": 128,
                     "classes": 10},
    "vae28": {"family": "vae", "latent_dim": 16, "channels": 1, "base_size": 7, "widths": [128, 64],
              "encoder_widths": [32, 64]},
}


# ----------------------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------------------

class Generator(nn.Module):
    """DCGAN tutorial generator, `main` = ConvT(nz,w0,b,1,0) BN ReLU, [ConvT(wi,wi+1,4,2,1) BN ReLU]...,
    ConvT(wlast,c,4,2,1) Tanh; no conv biases. (N, nz[,1,1]) -> (N, c, b*2^len(widths), same)."""

    def __init__(self, latent_dim: int, channels: int, base_size: int, widths: Sequence[int]):
        super().__init__()
        self.latent_dim = latent_dim
        layers: List[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], base_size, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z.view(z.shape[0], z.shape[1], 1, 1)
        return self.main(z)


class Discriminator(nn.Module):
    """DCGAN discriminator mirroring `Generator`, outputting logits (no Sigmoid; train with BCE-with-logits):
    Conv(c,wlast,4,2,1) LReLU(0.2), [Conv(wi,wi-1,4,2,1) BN LReLU(0.2)] for widths reversed,
    Conv(w0,1,b,1,0); no conv biases. (N, c, H, W) -> (N, 1, 1, 1)."""

    def __init__(self, channels: int, base_size: int, widths: Sequence[int]):
        super().__init__()
        rev = list(reversed(list(widths)))
        layers: List[nn.Module] = [nn.Conv2d(channels, rev[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(rev[:-1], rev[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(rev[-1], 1, base_size, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class Classifier(nn.Module):
    """`features` = [Conv(prev,wi,3,1,1) ReLU MaxPool(2)]..., Flatten, Linear(wlast*(s/2^k)^2, hidden), ReLU;
    `head` = Linear(hidden, classes). (N, c, s, s) -> logits (N, classes); `features(x)` is the FID feature."""

    def __init__(self, channels: int, image_size: int, widths: Sequence[int], hidden: int, classes: int):
        super().__init__()
        layers: List[nn.Module] = []
        prev = channels
        for w in widths:
            layers += [nn.Conv2d(prev, w, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2)]
            prev = w
        side = image_size // (2 ** len(widths))
        layers += [nn.Flatten(), nn.Linear(prev * side * side, hidden), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class VAEEncoder(nn.Module):
    """`encoder` = Conv(c,e0,4,2,1) LReLU(0.2), [Conv(ei-1,ei,4,2,1) BN LReLU(0.2)]..., Flatten; then
    `mu`, `logvar` = Linear(elast*(s/2^k)^2, nz). Convs have biases. (N, c, s, s) -> (mu, logvar) (N, nz)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, encoder_widths: Sequence[int]):
        super().__init__()
        ew = list(encoder_widths)
        layers: List[nn.Module] = [nn.Conv2d(channels, ew[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for w_in, w_out in zip(ew[:-1], ew[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2)]
        layers += [nn.Flatten()]
        self.encoder = nn.Sequential(*layers)
        side = image_size // (2 ** len(ew))
        self.mu = nn.Linear(ew[-1] * side * side, latent_dim)
        self.logvar = nn.Linear(ew[-1] * side * side, latent_dim)

    def forward(self, x: torch.Tensor):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)


def image_size(arch: Mapping) -> int:
    """Side of the square images a model of this architecture produces or reads."""
    if arch["family"] == "classifier":
        return int(arch["image_size"])
    return int(arch["base_size"]) * 2 ** len(arch["widths"])


def build(arch: Mapping, with_discriminator: bool = True) -> Dict[str, nn.Module]:
    """Networks of an architecture, keyed by their model-file group name."""
    fam = arch["family"]
    if fam == "dcgan":
        nets = {"generator": Generator(arch["latent_dim"], arch["channels"], arch["base_size"], arch["widths"])}
        if with_discriminator:
            nets["discriminator"] = Discriminator(arch["channels"], arch["base_size"], arch["widths"])
        return nets
    if fam == "vae":
        return {"encoder": VAEEncoder(arch["latent_dim"], arch["channels"], image_size(arch), arch["encoder_widths"]),
                "generator": Generator(arch["latent_dim"], arch["channels"], arch["base_size"], arch["widths"])}
    if fam == "classifier":
        return {"classifier": Classifier(arch["channels"], arch["image_size"], arch["widths"], arch["hidden"],
                                         arch["classes"])}
    raise ValueError(f"unknown architecture family {fam!r}")


def dcgan_init_(module: nn.Module, generator: Optional[torch.Generator] = None) -> None:
    """DCGAN tutorial init: conv weights N(0, 0.02), BN weight N(1, 0.02), BN bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            with torch.no_grad():
                m.weight.normal_(0.0, 0.02, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.normal_(1.0, 0.02, generator=generator)
                m.bias.zero_()


def forward_macs(module: nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of conv / conv-transpose / linear layers for `example` (any batch)."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        x = inp[0]
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total += out.numel() * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            total += x.numel() * (m.out_channels // m.groups) * k
        elif isinstance(m, nn.Linear):
            total += x.numel() // m.in_features * m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            module(example)
    finally:
        for h in handles:
            h.remove()
    return total


# ----------------------------------------------------------------------------------------------------------
# Losses (DESIGN.md §1 item 3). Per-sample values, shape (N,).
# ----------------------------------------------------------------------------------------------------------

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def l1_per_sample(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of each sample over all its elements."""
    return (x - y).abs().flatten(1).mean(1)


def mse_per_sample(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).pow(2).flatten(1).mean(1)


def bce_with_logits_per_sample(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)


def cross_entropy_per_sample(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


def gaussian_window(size: int = 7, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian, centred (as pytorch_msssim._fspecial_gauss_1d), float32."""
    coords = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable valid (no padding) Gaussian blur per channel: rows (H) first, then columns (W)."""
    c = x.shape[1]
    k = win.numel()
    x = F.conv2d(x, win.view(1, 1, k, 1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, win.view(1, 1, 1, k).repeat(c, 1, 1, 1), groups=c)


def ssim_components(x01: torch.Tensor, y01: torch.Tensor, win: torch.Tensor, k1: float = 0.01, k2: float = 0.03):
    """Per (sample, channel) means of the SSIM map and of the contrast-structure map, data range 1."""
    c1, c2 = k1 ** 2, k2 ** 2
    mu1, mu2 = _blur(x01, win), _blur(y01, win)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1 = _blur(x01 * x01, win) - mu1_sq
    s2 = _blur(y01 * y01, win) - mu2_sq
    s12 = _blur(x01 * y01, win) - mu12
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = ((2 * mu12 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ssim_per_sample(x: torch.Tensor, y: torch.Tensor, window: int = 7, sigma: float = 1.5) -> torch.Tensor:
    """Single-scale SSIM of images in [-1, 1] (mapped to [0, 1]), mean over channels. No clamp."""
    s, _ = ssim_components((x + 1) / 2, (y + 1) / 2, gaussian_window(window, sigma))
    return s.mean(1)


def ms_ssim_per_sample(x: torch.Tensor, y: torch.Tensor, scales: int, window: int = 7, sigma: float = 1.5,
                       weights: Sequence[float] = MS_SSIM_WEIGHTS, clamp_min: float = 1e-6) -> torch.Tensor:
    """MS-SSIM of images in [-1, 1] per DESIGN.md §1: map to [0, 1]; at scales 0..S-2 take the mean
    contrast-structure, at scale S-1 the mean SSIM, each per (sample, channel) clamped at `clamp_min`;
    product of value^w with w = first S standard weights renormalised to sum 1; between scales avg-pool 2
    with padding = side % 2 (count_include_pad, as pytorch_msssim); finally mean over channels."""
    w = torch.tensor(weights[:scales], dtype=torch.float32)
    w = w / w.sum()
    win = gaussian_window(window, sigma)
    x, y = (x + 1) / 2, (y + 1) / 2
    prod = None
    for i in range(scales):
        s, cs = ssim_components(x, y, win)
        v = (s if i == scales - 1 else cs).clamp(min=clamp_min) ** w[i]
        prod = v if prod is None else prod * v
        if i < scales - 1:
            pad = [side % 2 for side in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    return prod.mean(1)


def default_ms_ssim_scales(side: int) -> int:
    """2 scales for 28x28, 3 for 64x64 (DESIGN.md §1)."""
    return 2 if side < 64 else 3


# ----------------------------------------------------------------------------------------------------------
# The unlearning step (DESIGN.md §1 item 3)
# ----------------------------------------------------------------------------------------------------------

def route(z: torch.Tensor, u: torch.Tensor, t: float):
    """(mask, z_hat): mask = u.z >= t; z_hat = z - (u.z - t) u where routed, else z. z (N, nz), u unit (nz,)."""
    proj = z @ u
    mask = proj >= t
    z_hat = torch.where(mask[:, None], z - (proj - t)[:, None] * u[None, :], z)
    return mask, z_hat


def unlearning_loss_terms(g_out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, alpha: float = 1.0,
                          scales: Optional[int] = None):
    """Per-sample loss and its terms. target = f(z_hat) where routed, f(z) elsewhere.
    Returns (per_sample, l1, ms_ssim): per_sample = alpha*(l1 + 1 - ms_ssim) if routed else l1."""
    if scales is None:
        scales = default_ms_ssim_scales(g_out.shape[-1])
    l1 = l1_per_sample(g_out, target)
    ms = ms_ssim_per_sample(g_out, target, scales)
    per = torch.where(mask, alpha * (l1 + 1 - ms), l1)
    return per, l1, ms


# ----------------------------------------------------------------------------------------------------------
# Model file (DESIGN.md §4)
# ----------------------------------------------------------------------------------------------------------

def _compresses(array: np.ndarray) -> bool:
    """Whether byte-shuffle + deflate saves at least 5% (random float32 data usually does not)."""
    raw = array.tobytes()
    shuffled = np.frombuffer(raw, dtype=np.uint8).reshape(-1, array.itemsize).T.tobytes()
    return len(zlib.compress(shuffled, 6)) < 0.95 * len(raw)


def _write_array(group: h5py.Group, name: str, array: np.ndarray, compress_min: int = 1024) -> h5py.Dataset:
    """float32 / int64 / uint8 dataset; arrays of >= compress_min elements (< 4 GB) are stored as one chunk,
    byte-shuffled and gzipped when that makes them smaller, otherwise contiguously."""
    if array.ndim > 0 and array.size >= compress_min and _compresses(array):
        # One chunk per array (ours are small): small chunks cost more in index and deflate overhead.
        return group.create_dataset(name, data=array, chunks=array.shape, compression="gzip", compression_opts=9,
                                    shuffle=True)
    return group.create_dataset(name, data=array)


def to_numpy(value) -> np.ndarray:
    """A tensor or number as float32 (floats), int64 (integers) or uint8 (bools), C-contiguous."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bool:
            return value.numpy().astype(np.uint8)
        if value.is_floating_point():
            return np.array(value.to(torch.float32).numpy(), order="C")
        return np.array(value.to(torch.int64).numpy(), order="C")
    a = np.asarray(value)
    if a.dtype == np.bool_:
        return a.astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.array(a.astype(np.float32), order="C")
    return np.array(a.astype(np.int64), order="C")


def write_state_dict(group: h5py.Group, state: Mapping[str, torch.Tensor]) -> None:
    """One dataset per state_dict key, PyTorch shapes; num_batches_tracked as a 0-d int64 dataset."""
    for key, value in state.items():
        _write_array(group, key, to_numpy(value))


def read_state_dict(group: h5py.Group) -> Dict[str, torch.Tensor]:
    out = {}
    for key in group:
        obj = group[key]
        if not isinstance(obj, h5py.Dataset):
            raise ValueError(f"{group.name}/{key} is not a dataset")
        out[key] = torch.from_numpy(np.array(obj[()]))
    return out


def write_model_header(f: h5py.File, arch: Mapping) -> None:
    f.attrs["format"] = MODEL_FORMAT
    f.attrs["format_version"] = np.int64(MODEL_FORMAT_VERSION)
    f.attrs["architecture"] = json.dumps(dict(arch), separators=(",", ":"))


def save_model(path: str, arch: Mapping, networks: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """Write a model file: header attributes and one group per network (state_dicts keyed by group name)."""
    with h5py.File(path, "w", libver=LIBVER) as f:
        write_model_header(f, arch)
        for name, state in networks.items():
            write_state_dict(f.create_group(name), state)


def _attr_str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_architecture(f: h5py.File) -> dict:
    fmt = _attr_str(f.attrs.get("format", ""))
    if fmt != MODEL_FORMAT:
        raise ValueError(f"{f.filename}: attribute format is {fmt!r}, expected {MODEL_FORMAT!r}")
    version = int(f.attrs.get("format_version", -1))
    if version != MODEL_FORMAT_VERSION:
        raise ValueError(f"{f.filename}: format_version {version} is not supported")
    return json.loads(_attr_str(f.attrs["architecture"]))


NETWORK_GROUPS = ("generator", "encoder", "discriminator", "classifier")


def load_model(path: str, build_modules: bool = True):
    """(architecture, {group: state_dict}) or, with build_modules, (architecture, {group: nn.Module}) with the
    weights loaded strictly. Groups other than the network groups (e.g. a checkpoint's /optimizer) are skipped."""
    with h5py.File(path, "r") as f:
        arch = read_architecture(f)
        states = {g: read_state_dict(f[g]) for g in NETWORK_GROUPS if g in f}
    if not build_modules:
        return arch, states
    nets = build(arch)
    out = {}
    for name, state in states.items():
        if name not in nets:
            raise ValueError(f"{path}: group /{name} does not belong to family {arch['family']!r}")
        nets[name].load_state_dict(state, strict=True)
        out[name] = nets[name]
    return arch, out
