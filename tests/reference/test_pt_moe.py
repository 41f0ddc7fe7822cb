"""Reference test of the PT-MoE server model: afm's logits against pt_moe_reference.py.

Run by ctest as:
    /usr/bin/python3 test_pt_moe.py --afm build/afm --config configs/pt-moe-tiny.json
The tiny config's window is 16, so the 40- and 90-token sequences cross it; decode steps run
after prefills; batched prefills make the local layers' ring buffers wrap mid-batch; both ways
of running (track-parallel and the layer-parallel baseline) and thread counts below, equal to
and above the track count are compared. error = max |afm - ref| / max |ref| per position.
"""
import argparse
import json
import os
import sys
import tempfile

import torch

from logit_cases import run_cases
from pt_moe_reference import PtMoeReference

torch.set_num_threads(1)


def variant(base, work, name, **changes):
    cfg = dict(base)
    cfg.update(changes)
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return ["--config", path]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="afm-ptmoe-ref-")
    g = torch.Generator().manual_seed(5)
    tokens = torch.randint(0, 256, (40,), generator=g).tolist()
    long_tokens = torch.randint(0, 256, (90,), generator=g).tolist()
    with open(args.config) as f:
        base = json.load(f)
    assert base["sliding_window"] < len(tokens), "the test sequences must cross the window"

    f32 = ["--dtype", "f32"]
    cases = [
        ("track-parallel, every position", f32, ["--all"], 1e-4, 1e-4),
        ("layer-parallel baseline, every position", f32, ["--all", "--execution", "layer"], 1e-4, 1e-4),
        ("track-parallel, prefill + 6 decode steps", f32, ["--steps", "6"], 1e-4, 1e-4),
        ("baseline, prefill + 6 decode steps", f32, ["--steps", "6", "--execution", "layer"], 1e-4, 1e-4),
        ("batched prefill (batch 7, rings wrap mid-prefill) + 5 decode steps", f32,
         ["--all", "--batch", "7", "--steps", "5"], 1e-4, 1e-4),
        ("baseline, 3 threads (a worker without KV heads), batch 7 + 5 decode steps", f32,
         ["--all", "--batch", "7", "--steps", "5", "--threads", "3", "--execution", "layer"], 1e-4, 1e-4),
        ("1 thread (tracks in turn)", f32, ["--all", "--threads", "1"], 1e-4, 1e-4),
        ("3 threads for 2 tracks (a track pool of 2)", f32, ["--all", "--threads", "3"], 1e-4, 1e-4),
        ("90 tokens, batch 16, 20 decode steps (positions far past the window)", f32,
         ["--all", "--batch", "16", "--steps", "20"], 1e-4, 1e-4, long_tokens),
        ("top-k weights not renormalized", variant(base, work, "norenorm", moe_renorm=False),
         ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("3 tracks, blocks of 4, window 5, 1 global in 2, top-1 of 3 experts in every layer",
         variant(base, work, "odd", n_tracks=3, track_block_depth=4, sliding_window=5, global_every=2,
                 moe_every=1, n_experts=3, n_experts_used=1),
         ["--all", "--batch", "9", "--steps", "4"], 1e-4, 1e-4),
        ("the same, baseline", ["--config", os.path.join(work, "odd.json")],
         ["--all", "--batch", "9", "--steps", "4", "--execution", "layer"], 1e-4, 1e-4),
        ("1 track, no MoE, no global layers, no window (a dense model)",
         variant(base, work, "dense", n_tracks=1, moe_every=0, global_every=0, sliding_window=0),
         ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("half-style RoPE", f32 + ["--rope-style", "half"], ["--all"], 1e-4, 1e-4),
        ("bf16 weights", ["--dtype", "bf16"], ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("bf16 weights, baseline", ["--dtype", "bf16"], ["--all", "--steps", "3", "--execution", "layer"],
         1e-4, 1e-4),
    ]
    return run_cases(args.afm, args.config, cases, tokens, PtMoeReference, work)


if __name__ == "__main__":
    sys.exit(main())
