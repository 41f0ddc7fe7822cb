"""Reference test: afm's logits against the PyTorch reference (afm_reference.py).

Run by ctest as: /usr/bin/python3 test_reference.py --afm build/afm --config configs/afm-tiny.json
The comparison loop is logit_cases.run_cases:
    error = max |afm - ref| / max |ref|   must be <= the case's tolerance (1e-4 for f32).
"""
import argparse
import json
import os
import sys
import tempfile

import torch

from afm_reference import Reference
from logit_cases import run_cases

torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="afm-ref-")
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, 256, (40,), generator=g).tolist()
    tiny256 = os.path.join(os.path.dirname(os.path.abspath(args.config)), "afm-tiny-256.json")

    # (name, create flags, logits flags, tolerance for prefill rows, tolerance for decode rows).
    # Weights have std 0.3 unless a case says otherwise: attention is then peaked, so masking or
    # position errors show.
    cases = [
        ("f32 shared KV, every position", ["--dtype", "f32"], ["--all"], 1e-4, 1e-4),
        ("f32 shared KV, prefill skip + 3 decode steps", ["--dtype", "f32"], ["--steps", "3"], 1e-4, 1e-4),
        ("f32 shared KV, batched prefill (batch 7) + 3 decode steps", ["--dtype", "f32"],
         ["--steps", "3", "--batch", "7"], 1e-4, 1e-4),
        ("f32 no sharing, every position", ["--dtype", "f32", "--kv-shared-fraction", "0"], ["--all"], 1e-4, 1e-4),
        ("f32 no sharing, prefill + 3 decode steps", ["--dtype", "f32", "--kv-shared-fraction", "0"],
         ["--steps", "3"], 1e-4, 1e-4),
        ("f32 shared KV, half-style RoPE file", ["--dtype", "f32", "--rope-style", "half"], ["--all"], 1e-4, 1e-4),
        ("bf16 weights", ["--dtype", "bf16"], ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("f16 weights", ["--dtype", "f16"], ["--all", "--steps", "3"], 1e-4, 1e-4),
        # q8 decode quantizes activations to 8 bits (as GGML's Q8_0 x Q8_0 does), so decode rows
        # get a looser bound, on a model with the usual 0.02 init where errors do not compound
        # chaotically through the layers.
        ("q8 weights", ["--dtype", "q8", "--std", "0.02"], ["--all", "--steps", "3"], 1e-4, 1e-2),
        # afm's balanced 4- and 2-bit formats need rows of 256; their decode also quantizes
        # activations to 8 bits (per block of 256).
        ("q4 weights", ["--config", tiny256, "--dtype", "q4", "--std", "0.02"],
         ["--all", "--steps", "3"], 1e-4, 2e-2),
        ("q2 weights", ["--config", tiny256, "--dtype", "q2", "--std", "0.02"],
         ["--all", "--steps", "3"], 1e-4, 2e-2),
    ]
    # A non-default KV mapping, stored in the file: Block-2 layers read different sources.
    with open(args.config) as f:
        custom = json.load(f)
    n = custom["n_layers"]
    block1 = n - round(n * custom.get("kv_shared_fraction", 0.0))
    custom["kv_source"] = [l if l < block1 else (l * 7) % block1 for l in range(n)]
    custom_path = os.path.join(work, "custom-kv.json")
    with open(custom_path, "w") as f:
        json.dump(custom, f)
    cases.append(("f32 custom KV mapping " + str(custom["kv_source"]), ["--config", custom_path],
                  ["--all", "--steps", "3"], 1e-4, 1e-4))

    failed = run_cases(args.afm, args.config, cases, tokens, Reference, work)
    # The 8-bit KV cache against a reference that stores K and V the same way (afm computes K
    # and V in f32, the reference in f64, so a value on a rounding boundary may land one step
    # apart: hence 1e-3).
    kv8_cases = [
        ("8-bit KV, shared KV, every position", ["--dtype", "f32"], ["--all", "--kv", "q8"], 1e-3, 1e-3),
        ("8-bit KV, prefill skip + 3 decode steps, batch 7", ["--dtype", "f32"],
         ["--steps", "3", "--batch", "7", "--kv", "q8"], 1e-3, 1e-3),
    ]
    failed |= run_cases(args.afm, args.config, kv8_cases, tokens,
                        lambda path: Reference(path, kv8=True), work)
    return failed

if __name__ == "__main__":
    sys.exit(main())
