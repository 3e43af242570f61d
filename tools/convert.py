#!/usr/bin/env python3
"""Convert between PyTorch state_dict files (.pt) and the project's HDF5 model files (DESIGN.md §4).

  to-h5   .pt state_dict(s) + architecture JSON -> model .h5
  to-pt   model .h5 -> one .pt state_dict per network (or one bundle .pt)

Both directions build the PyTorch modules of the architecture (tools/unlearn_torch.py) and load the weights
with strict=True, so a key or shape that does not match the architecture is an error, not a silent skip.

Examples:
  tools/convert.py to-h5 --arch dcgan28 --generator G.pt --discriminator D.pt --out dcgan28.h5
  tools/convert.py to-h5 --arch '{"family":"vae","latent_dim":16,...}' --bundle vae.pt --out vae.h5
  tools/convert.py to-pt dcgan28.h5 --out-dir weights/          # weights/generator.pt, weights/discriminator.pt
  tools/convert.py to-pt dcgan28.h5 --bundle all.pt             # {"architecture": {...}, "generator": {...}, ...}

--arch takes a named architecture (dcgan28, dcgan64, classifier28, vae28), a JSON string or a .json file.
A bundle .pt is either {group: state_dict, ...} or one flat state_dict whose keys start with a group name
("generator.main.0.weight", "encoder.mu.weight", ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unlearn_torch as U  # noqa: E402


def parse_arch(text: str) -> dict:
    if text in U.ARCHITECTURES:
        return dict(U.ARCHITECTURES[text])
    if os.path.isfile(text):
        with open(text) as fh:
            return json.load(fh)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"error: --arch {text!r} is neither a known name ({', '.join(U.ARCHITECTURES)}), "
                         f"a file, nor JSON ({e})")


def load_pt(path: str):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (report any unpickling failure with the file name)
        raise SystemExit(f"error: cannot read {path}: {e}")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise SystemExit(f"error: {path} holds a {type(obj).__name__}, expected a state_dict")
    return obj


def split_bundle(obj: dict, path: str) -> Dict[str, dict]:
    groups = {k: v for k, v in obj.items() if k in U.NETWORK_GROUPS and isinstance(v, dict)}
    if groups:
        return groups
    out: Dict[str, dict] = {}
    for key, value in obj.items():
        head, _, rest = key.partition(".")
        if head not in U.NETWORK_GROUPS or not rest:
            raise SystemExit(f"error: {path}: key {key!r} does not start with one of {U.NETWORK_GROUPS}")
        out.setdefault(head, {})[rest] = value
    return out


def to_h5(args) -> None:
    states: Dict[str, dict] = {}
    bundle_arch = None
    if args.bundle:
        obj = load_pt(args.bundle)
        bundle_arch = obj.pop("architecture", None)
        states.update(split_bundle(obj, args.bundle))
    if args.arch:
        arch = parse_arch(args.arch)
    elif isinstance(bundle_arch, dict):
        arch = bundle_arch
    else:
        raise SystemExit("error: --arch is required (the bundle holds no architecture)")
    for group in U.NETWORK_GROUPS:
        path = getattr(args, group)
        if path:
            states[group] = load_pt(path)
    if not states:
        raise SystemExit("error: nothing to convert; give --generator/--discriminator/--encoder/--classifier "
                         "or --bundle")
    nets = U.build(arch)
    for group, state in states.items():
        if group not in nets:
            raise SystemExit(f"error: family {arch['family']!r} has no network {group!r} "
                             f"(it has {', '.join(nets)})")
        try:
            nets[group].load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise SystemExit(f"error: {group} weights do not match the architecture: {e}")
    if os.path.exists(args.out) and not args.force:
        raise SystemExit(f"error: {args.out} exists (use --force to overwrite)")
    U.save_model(args.out, arch, {g: nets[g].state_dict() for g in states})
    print(f"wrote {args.out}: {json.dumps(arch)}; groups {', '.join(states)}")


def to_pt(args) -> None:
    try:
        arch, nets = U.load_model(args.model)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise SystemExit(f"error: {args.model}: {e}")
    if args.bundle:
        obj = {"architecture": arch}
        obj.update({g: m.state_dict() for g, m in nets.items()})
        torch.save(obj, args.bundle)
        print(f"wrote {args.bundle}: groups {', '.join(nets)}")
        return
    out_dir = args.out_dir or "."
    os.makedirs(out_dir, exist_ok=True)
    for group, m in nets.items():
        path = os.path.join(out_dir, f"{group}.pt")
        torch.save(m.state_dict(), path)
        print(f"wrote {path}")
    with open(os.path.join(out_dir, "architecture.json"), "w") as fh:
        json.dump(arch, fh)
        fh.write("\n")
    print(f"wrote {os.path.join(out_dir, 'architecture.json')}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    h5 = sub.add_parser("to-h5", help=".pt state_dict(s) -> model .h5")
    h5.add_argument("--arch", help="architecture: name, JSON string or .json file (default: the bundle's)")
    for group in U.NETWORK_GROUPS:
        h5.add_argument(f"--{group}", metavar="PT", help=f"state_dict .pt for /{group}")
    h5.add_argument("--bundle", metavar="PT", help="one .pt holding several networks (see above)")
    h5.add_argument("--out", required=True, help="model .h5 to write")
    h5.add_argument("--force", action="store_true", help="overwrite --out")
    h5.set_defaults(run=to_h5)
    pt = sub.add_parser("to-pt", help="model .h5 -> .pt state_dict(s)")
    pt.add_argument("model", help="model .h5 (or checkpoint) to read")
    pt.add_argument("--out-dir", help="write <group>.pt and architecture.json here (default: .)")
    pt.add_argument("--bundle", metavar="PT", help="instead write one .pt {architecture, group: state_dict}")
    pt.set_defaults(run=to_pt)
    args = ap.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
