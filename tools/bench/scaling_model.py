#!/usr/bin/env python3
"""Ring-allreduce scaling model of the unlearning step, fed with `unlearn bench --json` measurements
(docs/PERFORMANCE.md, "Scaling model").

  python3 tools/bench/scaling_model.py --compute one-rank.json --allreduce two-ranks.json \
      [--bandwidth-gbit 25] [--latency-us 15] [--ranks 8 64 512]

--compute: a 1-rank report at the per-rank batch to model (weak scaling: every rank keeps that batch). Its
  median step time is the compute time t_c (forward, loss, backward, Adam; no communication), its backward
  phase is what an allreduce could at best hide behind.
--allreduce: a report from >= 2 ranks (same model); its `allreduce_seconds_per_byte` is the measured cost
  of moving and summing one byte on this machine (a blocking allreduce of the whole gradient), used as the
  per-byte local cost c next to the network's 1/bandwidth.

Model, for p ranks and S = 4 x parameters bytes of gradient:
  T_ring(p) = 2 (p - 1) alpha + 2 (p - 1) / p * S * (8 / bandwidth + c)
  exposed   = T_ring                         (no overlap: the first layer's gradient, most of the bytes,
                                              is final only at the end of backward)
  exposed   = max(0, T_ring - t_backward)    (perfect overlap, the bound bucketing could reach)
  efficiency = t_c / (t_c + exposed)
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compute", required=True, help="unlearn bench --json report of 1 rank")
    ap.add_argument("--allreduce", required=True, help="unlearn bench --json report of >= 2 ranks")
    ap.add_argument("--bandwidth-gbit", type=float, default=25.0, help="network bandwidth per rank, Gbit/s")
    ap.add_argument("--latency-us", type=float, default=15.0, help="per-message latency alpha, microseconds")
    ap.add_argument("--ranks", type=int, nargs="+", default=[8, 64, 512])
    args = ap.parse_args()
    with open(args.compute) as fh:
        one = json.load(fh)
    with open(args.allreduce) as fh:
        many = json.load(fh)
    if one["ranks"] != 1 or many["ranks"] < 2:
        ap.error("--compute needs a 1-rank report and --allreduce one of >= 2 ranks")
    t_c = one["phase_seconds"]["step"]
    t_b = one["phase_seconds"]["backward"]
    size = 4.0 * one["parameter_count"]
    c = many["allreduce_seconds_per_byte"]
    beta = 8.0 / (args.bandwidth_gbit * 1e9)
    alpha = args.latency_us * 1e-6
    print(f"{one['model']}: per-rank batch {one['global_batch']}, step {t_c * 1e3:.1f} ms (backward {t_b * 1e3:.1f} ms), "
          f"gradient {size / 1e6:.2f} MB")
    print(f"network {args.bandwidth_gbit:g} Gbit/s ({beta * 1e9:.3f} ns/byte), latency {args.latency_us:g} us, "
          f"measured local allreduce cost {c * 1e9:.3f} ns/byte ({many['ranks']} ranks)")
    print("ranks  T_ring ms  efficiency (no overlap)  efficiency (full overlap)  samples/s (no overlap)")
    for p in args.ranks:
        t_ring = 2 * (p - 1) * alpha + 2 * (p - 1) / p * size * (beta + c)
        e0 = t_c / (t_c + t_ring)
        e1 = t_c / (t_c + max(0.0, t_ring - t_b))
        rate = p * one["global_batch"] / (t_c + t_ring)
        print(f"{p:5d}  {t_ring * 1e3:9.2f}  {e0:23.1%}  {e1:25.1%}  {rate:22.0f}")


if __name__ == "__main__":
    main()
