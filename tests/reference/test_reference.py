"""Reference test: afm's logits against the PyTorch reference (afm_reference.py).

Run by ctest as: /usr/bin/python3 test_reference.py --afm build/afm --config configs/afm-tiny.json
For each case it creates a random model with `afm create`, asks `afm logits` for logits, and
compares them with the reference, position by position:
    error = max |afm - ref| / max |ref|   must be <= the case's tolerance (1e-4 for f32).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

from afm_reference import Reference

torch.set_num_threads(1)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="afm-ref-")
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, 256, (40,), generator=g).tolist()
    toks = ",".join(map(str, tokens))

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

    passed = failed = 0
    for name, create_flags, logit_flags, tol_prefill, tol_decode in cases:
        path = os.path.join(work, "m.gguf")
        std = [] if "--std" in create_flags else ["--std", "0.3"]
        config = [] if "--config" in create_flags else ["--config", args.config]
        run([args.afm, "create", "--out", path, "--seed", "11", "--threads", "1"] + config + std + create_flags)
        out = json.loads(run([args.afm, "logits", "-m", path, "--tokens", toks, "--threads", "2"] + logit_flags))
        ref = Reference(path).logits(tokens)
        steps = int(logit_flags[logit_flags.index("--steps") + 1]) if "--steps" in logit_flags else 0
        worst = 0.0
        ok = True
        for pos, row in zip(out["positions"], out["logits"]):
            got = torch.tensor(row, dtype=torch.float64)
            want = ref[pos]
            err = ((got - want).abs().max() / want.abs().max()).item()
            tol = tol_decode if pos >= len(tokens) - steps else tol_prefill
            worst = max(worst, err)
            if not err <= tol:
                ok = False
                print(f"  position {pos}: relative error {err:.3g} > {tol:g}")
        expected_rows = (len(tokens) - steps if "--all" in logit_flags else 1) + steps
        if len(out["positions"]) != expected_rows:
            ok = False
            print(f"  expected {expected_rows} rows of logits, got {len(out['positions'])}")
        print(f"{'PASS' if ok else 'FAIL'}: {name}: {len(out['positions'])} positions, worst relative error {worst:.2e}")
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
