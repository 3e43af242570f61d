#!/usr/bin/env python3
"""The paper's unlearning run in plain PyTorch on one of this project's model files, as an independent check
of the Swift trainer's *outcome* (the parity fixtures check single steps). Uses the shipped model, classifier
and a direction file from `unlearn direction`; reports the target ratio of f and g, and the floor (the ratio of
the loss's own targets f(ẑ)) on fresh latents.

  python3 tools/crosscheck_torch.py --model checkpoints/pretrained/mnist-dcgan28.h5 \
      --classifier checkpoints/pretrained/mnist-classifier.h5 --direction checkpoints/results/gan-digit8-300/direction.h5 \
      --class-index 8 --steps 300
"""
import argparse, copy, os, sys, time

import h5py
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unlearn_torch as U  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--model", required=True)
p.add_argument("--classifier", required=True)
p.add_argument("--direction", required=True)
p.add_argument("--class-index", type=int, default=8)
p.add_argument("--steps", type=int, default=300)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--count", type=int, default=5000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--save", help="also write the unlearned g as a model file (to evaluate with unlearn eval)")
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))

_, nets = U.load_model(a.model)
_, cnets = U.load_model(a.classifier)
f, clf = nets["generator"].eval(), cnets["classifier"].eval()
g = copy.deepcopy(f).eval()  # BatchNorm frozen in both (DESIGN.md §2)
for q in f.parameters(): q.requires_grad_(False)
with h5py.File(a.direction) as d:
    ze = torch.from_numpy(d["direction"][...]).double()
    t = float(d.attrs["threshold"])
u = (ze / ze.norm()).float()
nz = u.numel()
opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.999))
start = time.time()
for step in range(a.steps):
    z = torch.randn(a.batch, nz)
    mask, zh = U.route(z, u, t)
    with torch.no_grad():
        target = f(zh.view(-1, nz, 1, 1))
    out = g(z.view(-1, nz, 1, 1))
    per, _, _ = U.unlearning_loss_terms(out, target, mask)
    opt.zero_grad()
    per.mean().backward()
    opt.step()

def ratio(gen, z):
    with torch.no_grad():
        return float((clf(gen(z.view(-1, nz, 1, 1))).argmax(1) == a.class_index).float().mean())

z = torch.randn(a.count, nz)
_, zh = U.route(z, u, t)
print(f"PyTorch, {a.steps} steps in {time.time() - start:.0f} s: target ratio f {100 * ratio(f, z):.1f}% -> g "
      f"{100 * ratio(g, z):.1f}%, floor f(z_hat) {100 * ratio(f, zh):.1f}%")
if a.save:
    arch, states = U.load_model(a.model, build_modules=False)
    states["generator"] = g.state_dict()
    U.save_model(a.save, arch, states)
    print(f"wrote {a.save}")
