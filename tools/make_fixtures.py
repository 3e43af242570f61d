#!/usr/bin/env python3
"""Write the PyTorch parity fixtures under Tests/Fixtures/ (layout: docs/FIXTURES.md).

Deterministic: every case seeds torch from a CRC of its own name, so cases can be added or reordered without
changing the others. All floats are float32. Every differentiable case uses the scalar loss
sum(output * dOutput) with a stored random dOutput, so the stored gradients are exactly what
`backward(dOutput)` must return (dInput) and accumulate (parameter grads).

    python3 tools/make_fixtures.py [--out Tests/Fixtures]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import zlib
from typing import Callable, Dict, Mapping, Optional

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unlearn_torch as U  # noqa: E402

try:
    import pytorch_msssim
except ImportError:  # the cross-check is skipped, the fixtures are still written
    pytorch_msssim = None

# Narrow twins of the real models: the same layouts (layer order, kernels, strides, state_dict keys, image
# sizes, latent sizes), fewer channels, so that weights and gradients fit the fixture budget (~3 MB total).
FIXTURE_ARCHS = {
    "dcgan28": {"family": "dcgan", "latent_dim": 100, "channels": 1, "base_size": 7, "widths": [10, 6]},
    "dcgan64": {"family": "dcgan", "latent_dim": 100, "channels": 3, "base_size": 4, "widths": [64, 32, 16, 8]},
    "classifier28": {"family": "classifier", "channels": 1, "image_size": 28, "widths": [8, 16], "hidden": 32,
                     "classes": 10},
    "vae28": {"family": "vae", "latent_dim": 16, "channels": 1, "base_size": 7, "widths": [16, 8],
              "encoder_widths": [8, 16]},
}


def seed(name: str) -> None:
    torch.manual_seed(zlib.crc32(name.encode()))


def quantize(t: torch.Tensor, bits: int) -> torch.Tensor:
    """Round to multiples of 2^-bits: exact in float32 and compresses well (shuffle + gzip)."""
    return torch.round(t * 2.0 ** bits) / 2.0 ** bits


def away_from_zero(t: torch.Tensor, margin: float = 0.05) -> torch.Tensor:
    """Move values out of (-margin, margin) so that kinks (ReLU, |x|) are not straddled by rounding."""
    return t + torch.sign(t) * margin + (t == 0) * margin


def put(group: h5py.Group, name: str, value) -> None:
    U._write_array(group, name, U.to_numpy(value))


def put_state(group: h5py.Group, state: Mapping[str, torch.Tensor]) -> None:
    for k, v in state.items():
        put(group, k, v)


def set_attrs(obj, **attrs) -> None:
    for k, v in attrs.items():
        if isinstance(v, bool):
            v = np.uint8(v)
        elif isinstance(v, int):
            v = np.int64(v)
        elif isinstance(v, float):
            v = np.float64(v)
        elif isinstance(v, (list, tuple)):
            v = np.asarray(v, dtype=np.float64 if any(isinstance(x, float) for x in v) else np.int64)
        obj.attrs[k] = v


def state_copy(m: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def run_case(group: h5py.Group, module: nn.Module, x: torch.Tensor, train: bool, store_weights: bool = True,
             outputs: Optional[Callable] = None) -> None:
    """Forward x, loss = sum(output * dOutput), backward; store input, output, dOutput, dInput, weights/<key>
    (state_dict before), grads/<param key>, and in train mode state_after/<buffer key> when there are buffers."""
    module.train(train)
    module.zero_grad(set_to_none=True)
    before = state_copy(module)
    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    put(group, "input", x)
    put(group, "output", y)
    put(group, "dOutput", r)
    put(group, "dInput", x.grad)
    if store_weights and before:
        put_state(group.create_group("weights"), before)
    grads = group.create_group("grads")
    for k, p in module.named_parameters():
        put(grads, k, p.grad)
    buffers = dict(module.named_buffers())
    if buffers and train:
        put_state(group.create_group("state_after"), {k: v.detach() for k, v in buffers.items()})
    set_attrs(group, mode="train" if train else "eval")


# ----------------------------------------------------------------------------------------------------------
# layers.h5
# ----------------------------------------------------------------------------------------------------------

def randomize_(module: nn.Module) -> None:
    """Random parameters N(0, 0.5) (BN weight 1 + N(0, 0.2)) and random BN running stats."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if isinstance(module, nn.BatchNorm2d) and name == "weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.5 * torch.randn_like(p))
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(0.3 * torch.randn_like(module.running_mean))
            module.running_var.copy_(0.5 + torch.rand_like(module.running_var))
            module.num_batches_tracked.fill_(3)


def make_layers(path: str) -> None:
    cases = [
        # name, module, input shape, train, attrs
        ("linear", lambda: nn.Linear(7, 5), (3, 7), False, dict(in_features=7, out_features=5, bias=True)),
        ("conv2d_k3s1p1", lambda: nn.Conv2d(3, 4, 3, 1, 1), (2, 3, 6, 5), False,
         dict(in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=1, bias=True)),
        ("conv2d_k4s2p1", lambda: nn.Conv2d(3, 5, 4, 2, 1, bias=False), (2, 3, 8, 6), False,
         dict(in_channels=3, out_channels=5, kernel_size=4, stride=2, padding=1, bias=False)),
        ("conv_transpose2d_k4s2p1", lambda: nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False), (2, 4, 3, 4), False,
         dict(in_channels=4, out_channels=3, kernel_size=4, stride=2, padding=1, bias=False)),
        ("conv_transpose2d_k4s2p1_bias", lambda: nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=True), (2, 4, 3, 4), False,
         dict(in_channels=4, out_channels=3, kernel_size=4, stride=2, padding=1, bias=True)),
        ("conv_transpose2d_k7s1p0", lambda: nn.ConvTranspose2d(6, 3, 7, 1, 0, bias=False), (2, 6, 1, 1), False,
         dict(in_channels=6, out_channels=3, kernel_size=7, stride=1, padding=0, bias=False)),
        ("batchnorm2d_train", lambda: nn.BatchNorm2d(3), (4, 3, 5, 5), True,
         dict(num_features=3, eps=1e-5, momentum=0.1)),
        ("batchnorm2d_eval", lambda: nn.BatchNorm2d(3), (4, 3, 5, 5), False,
         dict(num_features=3, eps=1e-5, momentum=0.1)),
        ("relu", lambda: nn.ReLU(), (2, 3, 4, 5), False, {}),
        ("leaky_relu", lambda: nn.LeakyReLU(0.2), (2, 3, 4, 5), False, dict(negative_slope=0.2)),
        ("tanh", lambda: nn.Tanh(), (2, 3, 4, 5), False, {}),
        ("sigmoid", lambda: nn.Sigmoid(), (2, 3, 4, 5), False, {}),
        ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 3, 6, 8), False, dict(kernel_size=2, stride=2)),
        ("maxpool2d_odd", lambda: nn.MaxPool2d(2), (2, 3, 7, 9), False, dict(kernel_size=2, stride=2)),
        ("flatten", lambda: nn.Flatten(), (2, 3, 4, 5), False, {}),
    ]
    with h5py.File(path, "w", libver=U.LIBVER) as f:
        set_attrs(f, loss="sum(output * dOutput)")
        for name, make, shape, train, attrs in cases:
            seed(name)
            m = make()
            randomize_(m)
            x = away_from_zero(torch.randn(*shape)) if name in ("relu", "leaky_relu") else torch.randn(*shape)
            g = f.create_group(name)
            run_case(g, m, x, train)
            set_attrs(g, **attrs)


# ----------------------------------------------------------------------------------------------------------
# losses.h5
# ----------------------------------------------------------------------------------------------------------

def smooth_images(n: int, c: int, side: int) -> torch.Tensor:
    """Natural-ish images in (-1, 1): upsampled low-resolution noise plus fine noise, through tanh."""
    low = torch.randn(n, c, side // 4, side // 4)
    up = F.interpolate(low, size=(side, side), mode="bilinear", align_corners=False)
    return torch.tanh(1.5 * up + 0.3 * torch.randn(n, c, side, side))


def cross_check_ssim() -> None:
    """Our torch SSIM / MS-SSIM against pytorch_msssim (window 7, sigma 1.5, data range 1)."""
    if pytorch_msssim is None:
        print("warning: pytorch_msssim not installed, SSIM cross-check skipped")
        return
    seed("cross_check_ssim")
    for (n, c, side) in ((3, 1, 28), (2, 3, 64)):
        x = smooth_images(n, c, side)
        y = torch.tanh(torch.atanh(x * 0.999) + 0.4 * torch.randn_like(x))
        ours = U.ssim_per_sample(x, y)
        ref = pytorch_msssim.ssim((x + 1) / 2, (y + 1) / 2, data_range=1, size_average=False, win_size=7,
                                  win_sigma=1.5)
        assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-6), (ours, ref)
    # pytorch_msssim.ms_ssim needs sides > 96 for win 7; check the multi-scale structure there.
    x = smooth_images(2, 3, 112)
    y = torch.tanh(torch.atanh(x * 0.999) + 0.4 * torch.randn_like(x))
    for scales in (2, 3, 5):
        w = list(U.MS_SSIM_WEIGHTS[:scales])
        ours = U.ms_ssim_per_sample(x, y, scales)
        ref = pytorch_msssim.ms_ssim((x + 1) / 2, (y + 1) / 2, data_range=1, size_average=False, win_size=7,
                                     win_sigma=1.5, weights=[v / sum(w) for v in w])
        assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-6), (scales, ours, ref)
    print("SSIM and MS-SSIM agree with pytorch_msssim")


def loss_case(f: h5py.File, name: str, fn: Callable, pred: torch.Tensor, target: torch.Tensor, **attrs) -> None:
    w = torch.rand(pred.shape[0]) + 0.5
    p = pred.detach().clone().requires_grad_(True)
    values = fn(p, target)
    loss = (w * values).sum()
    loss.backward()
    g = f.create_group(name)
    put(g, "prediction", p)
    put(g, "target", target)
    put(g, "sample_weights", w)
    put(g, "values", values)
    put(g, "loss", loss)
    put(g, "dPrediction", p.grad)
    set_attrs(g, **attrs)


def make_losses(path: str) -> None:
    cross_check_ssim()
    with h5py.File(path, "w", libver=U.LIBVER) as f:
        set_attrs(f, loss="sum_i sample_weights[i] * values[i]")
        seed("l1")
        x = torch.tanh(torch.randn(3, 1, 5, 4))
        loss_case(f, "l1", U.l1_per_sample, x, x + away_from_zero(0.3 * torch.randn_like(x), 0.01))
        seed("mse")
        x = torch.tanh(torch.randn(3, 1, 5, 4))
        loss_case(f, "mse", U.mse_per_sample, x, torch.tanh(torch.randn_like(x)))
        seed("bce_with_logits")
        loss_case(f, "bce_with_logits", U.bce_with_logits_per_sample, 2 * torch.randn(6, 1, 1, 1),
                  torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0]).view(6, 1, 1, 1))
        seed("bce_with_logits_soft")
        loss_case(f, "bce_with_logits_soft", U.bce_with_logits_per_sample, 3 * torch.randn(3, 7),
                  torch.rand(3, 7))
        seed("cross_entropy")
        loss_case(f, "cross_entropy", U.cross_entropy_per_sample, 2 * torch.randn(4, 10),
                  torch.tensor([3, 0, 9, 3]))
        ssim_attrs = dict(window=7, sigma=1.5, k1=0.01, k2=0.03, data_range=1.0)
        for (n, c, side) in ((3, 1, 28), (2, 3, 64)):
            tag = f"{c}x{side}x{side}"
            seed("ssim_" + tag)
            y = images(n if side < 64 else 1, c, side)
            x = quantize(torch.tanh(torch.atanh(y * 0.999) + 0.4 * torch.randn_like(y)), 12)
            loss_case(f, "ssim_" + tag, U.ssim_per_sample, x, y, **ssim_attrs)
            scales = U.default_ms_ssim_scales(side)
            seed("ms_ssim_" + tag)
            y = images(n, c, side)
            x = quantize(torch.tanh(torch.atanh(y * 0.999) + 0.4 * torch.randn_like(y)), 12)
            loss_case(f, f"ms_ssim_{tag}_s{scales}", lambda a, b, s=scales: U.ms_ssim_per_sample(a, b, s), x, y,
                      scales=scales, clamp_min=1e-6, weights=list(U.MS_SSIM_WEIGHTS[:scales]), **ssim_attrs)
        # Sample 1 has anti-correlated pixel noise on a shared smooth image: its finest-scale contrast-structure
        # is negative (the 1e-6 clamp is active, no gradient through it) while the coarse SSIM is positive.
        seed("ms_ssim_clamped")
        y = images(2, 1, 28)
        x = quantize(torch.tanh(torch.atanh(y * 0.999) + 0.4 * torch.randn_like(y)), 12)
        smooth = 0.8 * F.interpolate(torch.randn(1, 1, 3, 3), size=(28, 28), mode="bilinear", align_corners=False)
        noise = 0.25 * torch.randn(1, 1, 28, 28)
        y[1], x[1] = quantize(torch.tanh(smooth + noise), 12)[0], quantize(torch.tanh(smooth - noise), 12)[0]
        _, cs = U.ssim_components((x + 1) / 2, (y + 1) / 2, U.gaussian_window())
        s1, _ = U.ssim_components(F.avg_pool2d((x + 1) / 2, 2), F.avg_pool2d((y + 1) / 2, 2), U.gaussian_window())
        assert cs[1, 0] < 0 < cs[0, 0] and s1[1, 0] > 0.1, (cs, s1)
        loss_case(f, "ms_ssim_1x28x28_s2_clamped", lambda a, b: U.ms_ssim_per_sample(a, b, 2), x, y,
                  scales=2, clamp_min=1e-6, weights=list(U.MS_SSIM_WEIGHTS[:2]), **ssim_attrs)


# ----------------------------------------------------------------------------------------------------------
# adam.h5
# ----------------------------------------------------------------------------------------------------------

def make_adam(path: str) -> None:
    seed("adam")
    steps, n = 5, 7
    p = nn.Parameter(torch.randn(n))
    grads = torch.randn(steps, n)
    grads[1, 2] = 0.0  # a zero gradient element
    opt = torch.optim.Adam([p], lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
    initial = p.detach().clone()
    params = []
    for s in range(steps):
        p.grad = grads[s].clone()
        opt.step()
        params.append(p.detach().clone())
    st = opt.state[p]
    with h5py.File(path, "w", libver=U.LIBVER) as f:
        put(f, "initial", initial)
        put(f, "grads", grads)
        put(f, "params", torch.stack(params))
        put(f, "exp_avg", st["exp_avg"])
        put(f, "exp_avg_sq", st["exp_avg_sq"])
        set_attrs(f, lr=1e-3, beta1=0.5, beta2=0.999, eps=1e-8, weight_decay=0.0, steps=steps)


# ----------------------------------------------------------------------------------------------------------
# models_*.h5 and unlearn_step.h5
# ----------------------------------------------------------------------------------------------------------

def init_network(m: nn.Module, calibration_input: Callable[[], torch.Tensor]) -> None:
    """DCGAN-style weights N(0, 0.02) (BN weight N(1, 0.02), BN bias N(0, 0.02)); Linear / Conv with biases
    keep PyTorch's default init; all rounded to a 2^-14 grid. BN running stats are calibrated by averaging
    the batch statistics of 4 train-mode batches, so that eval mode sees realistic statistics."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)) and mod.bias is None:
                mod.weight.normal_(0.0, 0.02)
            elif isinstance(mod, nn.BatchNorm2d):
                mod.weight.normal_(1.0, 0.02)
                mod.bias.normal_(0.0, 0.02)
        for p in m.parameters():
            p.copy_(quantize(p, 14))
        bns = [mod for mod in m.modules() if isinstance(mod, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average
        m.train()
        for _ in range(4):
            m(calibration_input())
        for bn in bns:
            bn.momentum = 0.1
            bn.running_mean.copy_(quantize(bn.running_mean, 16))
            bn.running_var.copy_(quantize(bn.running_var, 16))
    m.eval()


def new_model(arch: Mapping) -> Dict[str, nn.Module]:
    nets = U.build(arch)
    side = U.image_size(arch)
    if "generator" in nets:
        init_network(nets["generator"], lambda: torch.randn(16, arch["latent_dim"], 1, 1))
    for name in ("discriminator", "encoder", "classifier"):
        if name in nets:
            init_network(nets[name], lambda: torch.rand(16, arch["channels"], side, side) * 2 - 1)
    return nets


def model_file(path: str, arch: Mapping, nets: Mapping[str, nn.Module]) -> h5py.File:
    f = h5py.File(path, "w", libver=U.LIBVER)
    U.write_model_header(f, arch)
    for name, m in nets.items():
        U.write_state_dict(f.create_group(name), m.state_dict())
    return f


def latents(n: int, nz: int) -> torch.Tensor:
    return quantize(torch.randn(n, nz, 1, 1), 10)


def images(n: int, c: int, side: int) -> torch.Tensor:
    return quantize(smooth_images(n, c, side), 12)


def make_dcgan28(path: str) -> None:
    seed("models_dcgan28")
    arch = FIXTURE_ARCHS["dcgan28"]
    nets = new_model(arch)
    z, x = latents(2, arch["latent_dim"]), images(2, arch["channels"], 28)
    with model_file(path, arch, nets) as f:
        for net, inp in (("generator", z), ("discriminator", x)):
            start = state_copy(nets[net])
            for mode in ("eval", "train"):
                nets[net].load_state_dict(start)
                run_case(f.create_group(f"parity/{net}/{mode}"), nets[net], inp, mode == "train",
                         store_weights=False)


def make_dcgan64(path: str) -> None:
    seed("models_dcgan64")
    arch = FIXTURE_ARCHS["dcgan64"]
    nets = U.build(arch, with_discriminator=False)
    init_network(nets["generator"], lambda: torch.randn(8, arch["latent_dim"], 1, 1))
    with model_file(path, arch, nets) as f:
        run_case(f.create_group("parity/generator/eval"), nets["generator"], latents(1, arch["latent_dim"]),
                 False, store_weights=False)


def make_classifier(path: str) -> None:
    seed("models_classifier28")
    arch = FIXTURE_ARCHS["classifier28"]
    nets = new_model(arch)
    m = nets["classifier"]
    x = images(2, 1, 28)
    with model_file(path, arch, nets) as f:
        g = f.create_group("parity/classifier/eval")
        run_case(g, m, x, False, store_weights=False)
        with torch.no_grad():
            put(g, "features", m.features(x))


def make_vae(path: str) -> None:
    seed("models_vae28")
    arch = FIXTURE_ARCHS["vae28"]
    nets = new_model(arch)
    enc = nets["encoder"]
    x = images(2, 1, 28).requires_grad_(True)
    mu, logvar = enc(x)
    d_mu, d_logvar = torch.randn_like(mu), torch.randn_like(logvar)
    ((mu * d_mu).sum() + (logvar * d_logvar).sum()).backward()
    with model_file(path, arch, nets) as f:
        g = f.create_group("parity/encoder/eval")
        for k, v in (("input", x), ("output_mu", mu), ("output_logvar", logvar), ("dMu", d_mu),
                     ("dLogvar", d_logvar), ("dInput", x.grad)):
            put(g, k, v)
        grads = g.create_group("grads")
        for k, p in enc.named_parameters():
            put(grads, k, p.grad)
        set_attrs(g, mode="eval", loss="sum(mu * dMu) + sum(logvar * dLogvar)")


def unlearning_step(group: h5py.Group, f_net: nn.Module, g_net: nn.Module, z: torch.Tensor, u: torch.Tensor,
                    t: float, alpha: float, lr: float, betas) -> None:
    f_net.eval()
    g_net.eval()
    g_net.zero_grad(set_to_none=True)
    mask, z_hat = U.route(z, u, t)
    with torch.no_grad():
        target = f_net(z_hat)
    out = g_net(z)
    per, l1, ms = U.unlearning_loss_terms(out, target, mask, alpha)
    loss = per.mean()
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in g_net.named_parameters()}
    opt = torch.optim.Adam(g_net.parameters(), lr=lr, betas=betas, eps=1e-8)
    opt.step()
    for k, v in (("z", z), ("direction", u), ("threshold", torch.tensor(t)), ("projection", z @ u),
                 ("mask", mask), ("z_hat", z_hat), ("output", out), ("target", target), ("l1", l1),
                 ("ms_ssim", ms), ("per_sample", per), ("loss", loss)):
        put(group, k, v)
    put_state(group.create_group("grads"), grads)
    put_state(group.create_group("after_adam"), {k: p.detach() for k, p in g_net.named_parameters()})
    set_attrs(group, alpha=alpha, lr=lr, beta1=betas[0], beta2=betas[1], eps=1e-8, scales=2, window=7,
              sigma=1.5, k1=0.01, k2=0.03, clamp_min=1e-6)


def make_unlearn_step(path: str) -> None:
    seed("unlearn_step")
    arch = FIXTURE_ARCHS["dcgan28"]
    nz = arch["latent_dim"]
    f_net = new_model(arch)["generator"]
    while True:  # a mix of routed and not routed, none within 0.05 of the threshold
        z = quantize(torch.randn(8, nz), 10)
        u = torch.randn(nz)
        u = u / u.norm()
        proj = z @ u
        t = float(proj.mean())
        routed = int((proj >= t).sum())
        if 3 <= routed <= 5 and float((proj - t).abs().min()) > 0.05:
            break
    with h5py.File(path, "w", libver=U.LIBVER) as fh:
        U.write_model_header(fh, arch)
        U.write_state_dict(fh.create_group("generator"), f_net.state_dict())
        g_net = copy.deepcopy(f_net)
        unlearning_step(fh.create_group("step_identical"), f_net, g_net, z, u, t, 1.0, 1e-4, (0.5, 0.999))
        g_net = copy.deepcopy(f_net)
        with torch.no_grad():
            for p in g_net.parameters():
                p.add_(quantize(0.002 * torch.randn_like(p), 14))
        start = fh.create_group("step_perturbed/start")
        U.write_state_dict(start, g_net.state_dict())
        unlearning_step(fh["step_perturbed"], f_net, g_net, z, u, t, 1.0, 1e-4, (0.5, 0.999))


def verify_model_files(folder: str) -> None:
    """Reload each models_*.h5 as a model file (strict state_dict load) and reproduce its eval outputs."""
    for name in sorted(os.listdir(folder)):
        if not name.startswith("models_"):
            continue
        path = os.path.join(folder, name)
        _, nets = U.load_model(path)
        with h5py.File(path, "r") as f, torch.no_grad():
            for net, m in nets.items():
                key = f"parity/{net}/eval"
                if key not in f:
                    continue
                m.eval()
                x = torch.from_numpy(f[key]["input"][()])
                got = m(x)
                want = ("output_mu", "output_logvar") if net == "encoder" else ("output",)
                got = got if isinstance(got, tuple) else (got,)
                for g, w in zip(got, want):
                    assert torch.equal(g, torch.from_numpy(f[key][w][()])), (path, net, w)
    print("model fixtures reload as model files and reproduce their eval outputs")


FIXTURES = {
    "layers.h5": make_layers,
    "losses.h5": make_losses,
    "adam.h5": make_adam,
    "models_dcgan28.h5": make_dcgan28,
    "models_dcgan64.h5": make_dcgan64,
    "models_classifier28.h5": make_classifier,
    "models_vae28.h5": make_vae,
    "unlearn_step.h5": make_unlearn_step,
}


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "Fixtures"), help="output folder")
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="write only these files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, make in FIXTURES.items():
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.out, name)
        make(path)
        size = os.path.getsize(path)
        total += size
        print(f"{name:28s} {size / 1024:8.1f} KiB")
    print(f"{'total':28s} {total / 1024:8.1f} KiB ({total / 1e6:.2f} MB)")
    verify_model_files(args.out)


if __name__ == "__main__":
    main()
