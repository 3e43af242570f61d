#!/usr/bin/env python3
"""The unlearning step in PyTorch DistributedDataParallel (gloo, CPU): the reference `unlearn bench` is
compared against (docs/FIXTURES.md, /work/shared/ANCHORS.md).

Step = trained generator g forward + backward, frozen copy f forward on z_hat, the paper's loss
(alpha (L1 + 1 - MS-SSIM) on routed latents, L1 elsewhere, MS-SSIM per DESIGN.md §1), DDP allreduce of the
gradients, Adam (1e-4, betas 0.5 / 0.999). BatchNorm in eval mode (frozen statistics) in g and f, as the
unlearning run does. Weights are random (DCGAN init): speed does not depend on their values.

The global batch of latents for step s is the same whatever the rank count (seeded by step); rank r takes
the contiguous slice r. Each rank's loss is its sum / local batch, DDP averages over ranks, so the gradient
is the global-batch mean.

FLOPs: 2 per multiply-add of the conv / conv-transpose / linear layers; per sample the trained generator
counts 3 forwards (forward + backward) and the frozen copy 1 forward. The loss and Adam are not counted.
Reported: median over --repeats runs of --steps timed steps each (after --warmup steps), from rank 0.

  python3 tools/bench/torch_step.py --model dcgan28 --global-batch 64 --ranks 1 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import unlearn_torch as U  # noqa: E402


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def worker(rank: int, args, port: int, results) -> None:
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)

    arch = U.ARCHITECTURES[args.model]
    nz, side = arch["latent_dim"], U.image_size(arch)
    torch.manual_seed(args.seed)
    f_net = U.build(arch, with_discriminator=False)["generator"]
    U.dcgan_init_(f_net)
    f_net.eval().requires_grad_(False)
    g_net = copy.deepcopy(f_net).requires_grad_(True)
    g_net.eval()
    g_ddp = DDP(g_net)
    opt = torch.optim.Adam(g_net.parameters(), lr=1e-4, betas=(0.5, 0.999))
    u = torch.randn(nz, generator=torch.Generator().manual_seed(args.seed + 1))
    u = u / u.norm()
    t = 0.0  # the mean projection of N(0, I) latents: about half of them are routed
    local = args.global_batch // args.ranks
    lo = rank * local

    def step(s: int) -> None:
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + s)
        z = torch.randn(args.global_batch, nz, generator=gen)[lo:lo + local]
        mask, z_hat = U.route(z, u, t)
        with torch.no_grad():
            target = f_net(z_hat)
        out = g_ddp(z)
        per, _, _ = U.unlearning_loss_terms(out, target, mask, args.alpha)
        loss = per.sum() / local
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    s = 0
    for _ in range(args.warmup):
        step(s)
        s += 1
    times = []
    loads = [loadavg()]
    for _ in range(args.repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(s)
            s += 1
        dist.barrier()
        times.append(time.perf_counter() - t0)
        loads.append(loadavg())
    if rank == 0 and args.dump_weights:
        torch.save(g_net.state_dict(), args.dump_weights)
    if rank == 0:
        macs = U.forward_macs(f_net, torch.zeros(1, nz))
        flops_per_sample = 2 * macs * 4
        rates = [args.global_batch * args.steps / dt for dt in times]
        med = statistics.median(rates)
        results.put({
            "model": args.model, "global_batch": args.global_batch, "ranks": args.ranks,
            "threads": args.threads, "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
            "image_size": side, "forward_gflop_per_sample": 2 * macs / 1e9,
            "samples_per_s": med, "gflops": med * flops_per_sample / 1e9,
            "samples_per_s_runs": rates, "loadavg": loads, "torch": torch.__version__,
        })
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["dcgan28", "dcgan64"], default="dcgan28")
    ap.add_argument("--global-batch", type=int, default=64)
    ap.add_argument("--ranks", type=int, default=1, help="DDP processes (gloo)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per rank")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before the first run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="FILE", help="also write the result as JSON here")
    ap.add_argument("--dump-weights", metavar="PT", help="save g's state_dict after the last step (rank 0), to "
                    "check that runs with different --ranks end with the same weights")
    args = ap.parse_args()
    if args.ranks < 1 or args.threads < 1 or args.steps < 1 or args.repeats < 1:
        ap.error("--ranks, --threads, --steps and --repeats must be >= 1")
    if args.global_batch % args.ranks:
        ap.error(f"--global-batch {args.global_batch} is not divisible by --ranks {args.ranks}")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    mp.spawn(worker, args=(args, free_port(), results), nprocs=args.ranks, join=True)
    r = results.get()
    print(f"torch {r['torch']} DDP gloo: {r['model']} global batch {r['global_batch']}, {r['ranks']} rank(s) x "
          f"{r['threads']} thread(s), {r['steps']} steps x {r['repeats']} runs after {r['warmup']} warmup")
    print("runs (samples/s): " + ", ".join(f"{x:.1f}" for x in r["samples_per_s_runs"]))
    print(f"load average before/after runs: {' | '.join(r['loadavg'])}")
    print(f"median: {r['samples_per_s']:.1f} samples/s, {r['gflops']:.1f} GFLOP/s "
          f"({r['forward_gflop_per_sample'] * 1e3:.1f} MFLOP per generator forward per sample)")
    print(f"RESULT samples_per_s={r['samples_per_s']:.2f} gflops={r['gflops']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(r, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
