"""Reference test for 2-bit QAT (train/qat.h) against PyTorch.

Run by ctest as: /usr/bin/python3 test_qat.py --check build/train/afm_qat_check
Written from the report's section 6, not from afm's code: the fake quantizer
    W~ = s * (clamp(round(W / s + z), 0, 2^B - 1) - z),  z = (2^B - 1) / 2,  s = f * max|W| / z
with rounding as a straight-through estimator (a custom autograd function here: identity
gradient), compared value by value with afm's, and its gradients with respect to W and f by
autograd; and the clipping initialiser's fixed point c = E[|w| 1{|w|>c}] / (4^-B/3 P(|w|<=c) +
P(|w|>c)) solved by bisection here, against afm's Newton-Raphson iteration.
"""
import argparse
import json
import subprocess
import sys

import torch


class RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def reference(w, f, bits, g):
    w = w.clone().requires_grad_(True)
    f = torch.tensor(f, dtype=torch.float64, requires_grad=True)
    z = (2 ** bits - 1) / 2
    s = f * w.detach().abs().max() / z
    wq = s * (torch.clamp(RoundSTE.apply(w / s + z), 0, 2 ** bits - 1) - z)
    (wq * g).sum().backward()
    return s.item(), wq.detach(), w.grad, f.grad.item()


def clip_bisection(w, bits):
    a = w.abs().flatten()
    noise = 4.0 ** -bits / 3

    def excess(c):  # positive while c is below the fixed point
        above = a > c
        return (a * above).sum().item() / (noise * (~above).sum().item() + above.sum().item()) - c

    lo, hi = 1e-12, a.max().item()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(5)
    failed = 0
    cases = [("gaussian 2-bit, f from clipping", 2, None, "normal"),
             ("gaussian 2-bit, f = 0.6 (heavy clipping)", 2, 0.6, "normal"),
             ("laplace-like 2-bit, f = 1", 2, 1.0, "laplace"),
             ("gaussian 4-bit, f = 0.9", 4, 0.9, "normal")]
    for name, bits, f, dist in cases:
        w = torch.randn(24, 40, generator=gen, dtype=torch.float64) * 0.02
        if dist == "laplace":
            w = w * torch.randn(24, 40, generator=gen, dtype=torch.float64).abs() * 2
        g = torch.randn(24, 40, generator=gen, dtype=torch.float64)
        c_ref = clip_bisection(w, bits)
        if f is None:
            f = c_ref / w.abs().max().item()
        inp = {"w": w.flatten().tolist(), "rows": 24, "cols": 40, "f": f, "bits": bits,
               "g": g.flatten().tolist()}
        out = json.loads(subprocess.run([args.check], input=json.dumps(inp), check=True,
                                        capture_output=True, text=True).stdout)
        s, wq, dw, df = reference(w.float().double(), f, bits, g.float().double())
        errs = {
            "s": abs(out["s"] - s) / s,
            "W~": (torch.tensor(out["wq"]).view(24, 40) - wq).abs().max().item() / s,
            "dL/dW": (torch.tensor(out["dw"]).view(24, 40) - dw).abs().max().item(),
            "dL/df": abs(out["df"] - df) / max(abs(df), 1e-12),
            "clip": abs(out["clip"] - c_ref) / c_ref,
        }
        tol = {"s": 1e-6, "W~": 1e-6, "dL/dW": 1e-9, "dL/df": 1e-6, "clip": 1e-6}
        bad = [k for k in errs if not errs[k] <= tol[k]]
        levels = sorted(set(round(v / s, 6) for v in out["wq"]))
        print(f"{'FAIL' if bad else 'PASS'}: {name}: levels {levels}, clip c = {out['clip']:.5g} "
              f"(reference {c_ref:.5g}), errors " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
