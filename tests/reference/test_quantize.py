"""Reference test for `afm quantize` into the balanced formats (docs/compression.md).

Run by ctest as: /usr/bin/python3 test_quantize.py --afm build/afm --config configs/afm-tiny-256.json
From the format's definition (report section 6: levels {-1.5, -0.5, 0.5, 1.5} s for 2 bits), not
from afm's encoder, it checks on every block of every quantized tensor that
  - each weight got the level nearest to it for the block's scale: code = clamp(round(w/s + c));
  - the chosen scale is no worse than the plain one, s = max|w| / c (what the fit starts from);
and, per file, that norm gains stay f32 and unchanged, the embedding table takes 4 bits when the
matrices take 2, and the relative errors afm prints match the ones computed here.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from gguf_read import AFM_Q2, AFM_Q4, BALANCED_BITS, GGML_F32, Reader, balanced_codes


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def block_error(w, s, bits):
    c = ((1 << bits) - 1) / 2
    q = np.clip(np.floor(w / s[:, None] + c + 0.5), 0, (1 << bits) - 1)
    return ((w - s[:, None] * (q - c)) ** 2).sum(axis=1)


def check_file(src, dst, printed, bits, embed_type):
    problems = []
    for name, (dims, ttype, offset) in dst.tensors.items():
        w = src.tensor(name).reshape(-1)
        if len(dims) == 1:
            if ttype != GGML_F32 or not np.array_equal(dst.tensor(name).reshape(-1), w):
                problems.append(f"{name}: norm gain changed")
            continue
        want_type = embed_type if name == "token_embd.weight" else {2: AFM_Q2, 4: AFM_Q4}[bits]
        if ttype != want_type:
            problems.append(f"{name}: type {ttype}, expected {want_type}")
            continue
        b = BALANCED_BITS[ttype]
        c = ((1 << b) - 1) / 2
        s, codes = balanced_codes(dst.buf, dst.data_start + offset, w.size, b)
        blocks = w.reshape(-1, 256)
        nearest = np.clip(np.floor(blocks / s[:, None] + c + 0.5), 0, (1 << b) - 1)
        # A weight exactly between two levels may go either way: ignore ties.
        frac = np.abs(blocks / s[:, None] + c - np.floor(blocks / s[:, None] + c) - 0.5)
        wrong = (codes != nearest) & (frac > 1e-4)
        if wrong.any():
            problems.append(f"{name}: {int(wrong.sum())} weights not on their nearest level")
        plain = (np.abs(blocks).max(axis=1) / c).astype(np.float16).astype(np.float32)
        got_err, plain_err = block_error(blocks, s, b), block_error(blocks, plain, b)
        if (got_err > plain_err * (1 + 1e-5) + 1e-12).any():
            problems.append(f"{name}: a block's scale is worse than max|w| / c")
        rel = np.sqrt(got_err.sum() / (blocks ** 2).sum())
        if abs(rel - printed[name]) > 1e-4 * max(rel, 1e-3):
            problems.append(f"{name}: afm printed rel_rmse {printed[name]}, reference {rel:.6f}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="afm-quant-")
    f32 = os.path.join(work, "f32.gguf")
    run([args.afm, "create", "--config", args.config, "--out", f32, "--std", "0.02", "--seed", "3"])
    src = Reader(f32)
    failed = 0
    for weights, bits, embed in (("q2", 2, AFM_Q4), ("q4", 4, AFM_Q4)):
        out = os.path.join(work, weights + ".gguf")
        text = run([args.afm, "quantize", "-m", f32, "-o", out, "--weights", weights])
        printed = {}
        for line in text.splitlines()[1:-1]:
            cols = line.split()
            printed[cols[0]] = float(cols[-1])
        problems = check_file(src, Reader(out), printed, bits, embed)
        for p in problems:
            print("  " + p)
        print(f"{'FAIL' if problems else 'PASS'}: quantize --weights {weights}: "
              f"{len(printed)} tensors; {text.splitlines()[-1]}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
