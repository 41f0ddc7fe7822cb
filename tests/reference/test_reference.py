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
from logit_cases import run, run_cases

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
        # Palettized formats, decoded by the reference from the file's palettes and codes;
        # afm-tiny's widths pad their 16 x 256 tiles.
        ("pal4 weights", ["--dtype", "pal4", "--std", "0.02"], ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("pal2 weights", ["--dtype", "pal2", "--std", "0.02"], ["--all", "--steps", "3"], 1e-4, 1e-4),
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
    # The 8-bit KV cache against a reference that stores K and V the same way. afm computes K
    # and V in f32, the reference in f64, so a value on a rounding boundary may land one step
    # apart: hence 1e-3, and up to 2 of the 40 positions may reach 1e-2 (one step flipped at one
    # position measured 1.0e-3 with these tokens on an AVX2 host and 2.5e-3 with others, while
    # an f32 cache against this reference is 0.18 off at every position).
    kv8_cases = [
        ("8-bit KV, shared KV, every position", ["--dtype", "f32"], ["--all", "--kv", "q8"], 1e-3, 1e-3),
        ("8-bit KV, prefill skip + 3 decode steps, batch 7", ["--dtype", "f32"],
         ["--steps", "3", "--batch", "7", "--kv", "q8"], 1e-3, 1e-3),
    ]
    failed |= run_cases(args.afm, args.config, kv8_cases, tokens,
                        lambda path: Reference(path, kv8=True), work, outliers=(2, 1e-2))

    # astc: the reference reads the weights as libastcenc decodes them with each block's floor
    # added back (`afm quantize --weights f32`, checked bit-exact against libastcenc by
    # afm_formats_test), while afm runs from the ASTC blocks with the floors fused into its
    # products. afm-tiny's widths (64, 160) are not multiples of 6, so padding is exercised.
    def decoded_reference(path):
        flat = path + ".f32.gguf"
        run([args.afm, "quantize", "-m", path, "-o", flat, "--weights", "f32", "--embed", "f32", "-q"])
        return Reference(flat)
    astc_cases = [
        ("astc weights (every position, 3 decode steps)", ["--dtype", "astc", "--std", "0.02"],
         ["--all", "--steps", "3"], 1e-4, 1e-4),
        ("astc weights, batched prefill (batch 7)", ["--dtype", "astc", "--std", "0.02"],
         ["--all", "--batch", "7"], 1e-4, 1e-4),
    ]
    failed |= run_cases(args.afm, args.config, astc_cases, tokens, decoded_reference, work)

    # astc with the SVD split: afm computes ASTC(W_res) x + B (A x); the reference multiplies by
    # W_res (decoded as above) + B A, the f16 pair read from the file.
    def svd_model(path):
        split = path + ".svd.gguf"
        run([args.afm, "quantize", "-m", path, "-o", split, "--weights", "astc:svd=5", "--embed", "f16", "-q"])
        return split
    def astc_svd_case(name, logit_flags):
        return (name, ["--dtype", "f32", "--std", "0.02"], logit_flags, 1e-4, 1e-4)
    failed |= run_cases(args.afm, args.config,
                        [astc_svd_case("astc:svd=5 (every position, 3 decode steps)", ["--all", "--steps", "3"]),
                         astc_svd_case("astc:svd=5, batched prefill (batch 7)", ["--all", "--batch", "7"])],
                        tokens, decoded_reference, work, transform=svd_model)
    return failed

if __name__ == "__main__":
    sys.exit(main())
