"""The comparison loop the reference tests share: for each case, create a random model with
`afm create`, ask `afm logits` for logits, and compare them with a PyTorch reference position by
position:
    error = max |afm - ref| / max |ref|   must be <= the case's tolerance.
A case is (name, create flags, logits flags, prefill tolerance, decode tolerance[, tokens]).
outliers=(n, tol) lets up to n positions exceed the case's tolerance as long as they stay within
tol: for quantized values computed in f32 by afm and in f64 by the reference, where a value on a
rounding boundary lands one step apart at a position or two, while a wrong scale or formula
moves every position.
"""
import json
import os
import subprocess

import torch


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def run_cases(afm, config, cases, tokens, reference_class, work, transform=None, outliers=(0, 0.0)):
    """transform(path) -> path, if given, rewrites each created model (e.g. afm quantize)."""
    passed = failed = 0
    for case in cases:
        name, create_flags, logit_flags, tol_prefill, tol_decode = case[:5]
        toks_list = case[5] if len(case) > 5 else tokens
        toks = ",".join(map(str, toks_list))
        path = os.path.join(work, "m.gguf")
        std = [] if "--std" in create_flags else ["--std", "0.3"]
        cfg = [] if "--config" in create_flags else ["--config", config]
        threads = [] if "--threads" in logit_flags else ["--threads", "2"]
        run([afm, "create", "--out", path, "--seed", "11", "--threads", "1"] + cfg + std + create_flags)
        if transform:
            path = transform(path)
        out = json.loads(run([afm, "logits", "-m", path, "--tokens", toks] + threads + logit_flags))
        ref = reference_class(path).logits(toks_list)
        steps = int(logit_flags[logit_flags.index("--steps") + 1]) if "--steps" in logit_flags else 0
        worst = 0.0
        ok = True
        over = 0
        for pos, row in zip(out["positions"], out["logits"]):
            got = torch.tensor(row, dtype=torch.float64)
            want = ref[pos]
            err = ((got - want).abs().max() / want.abs().max()).item()
            tol = tol_decode if pos >= len(toks_list) - steps else tol_prefill
            worst = max(worst, err)
            if not err <= tol:
                over += 1
                allowed = over <= outliers[0] and err <= outliers[1]
                ok = ok and allowed
                note = f" (one of {outliers[0]} allowed up to {outliers[1]:g})" if allowed else ""
                print(f"  position {pos}: relative error {err:.3g} > {tol:g}{note}")
        expected_rows = (len(toks_list) - steps if "--all" in logit_flags else 1) + steps
        if len(out["positions"]) != expected_rows:
            ok = False
            print(f"  expected {expected_rows} rows of logits, got {len(out['positions'])}")
        print(f"{'PASS' if ok else 'FAIL'}: {name}: {len(out['positions'])} positions, "
              f"worst relative error {worst:.2e}", flush=True)
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
