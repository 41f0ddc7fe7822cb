"""Tokenizer reference test: afm's ids must equal js-tiktoken's, token for token.

  /usr/bin/python3 test_tiktoken.py --afm build/afm --vocab ../shared/vocab --work DIR

Builds the corpus (make_corpus.py), encodes every file with js-tiktoken (oracle.js, installed
by scripts/setup.sh into tests/tokenizer/node_modules) and with `afm tokenize`, and compares:
  cl100k_base and o200k_base from the .tiktoken rank files;
  gpt2 from encoder.json + vocab.bpe, and from the GGUF vocabulary ggml-vocab-gpt-2.gguf.
Also checks that decoding gives back every file byte for byte.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr.decode(errors='replace')}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--vocab", required=True, help="the shared vocab folder")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "js-tiktoken")):
        print("js-tiktoken is not installed: run scripts/setup.sh (npm install in tests/tokenizer)")
        return 1
    corpus = os.path.join(args.work, "corpus")
    run(["/usr/bin/python3", os.path.join(HERE, "make_corpus.py"), corpus])
    files = [os.path.join(corpus, f) for f in sorted(os.listdir(corpus))]
    total = sum(os.path.getsize(f) for f in files)
    print(f"corpus: {len(files)} files, {total} bytes")

    # (encoding, vocabulary, mode): "text" treats special-token text as text, "special" as tokens.
    cases = [
        ("cl100k_base", os.path.join(args.vocab, "cl100k_base.tiktoken"), "text"),
        ("cl100k_base", os.path.join(args.vocab, "cl100k_base.tiktoken"), "special"),
        ("o200k_base", os.path.join(args.vocab, "o200k_base.tiktoken"), "text"),
        ("o200k_base", os.path.join(args.vocab, "o200k_base.tiktoken"), "special"),
        ("gpt2", os.path.join(args.vocab, "gpt2"), "text"),
        ("gpt2", os.path.join(args.vocab, "gpt2"), "special"),
        ("gpt2", os.path.join(args.vocab, "ggml-vocab-gpt-2.gguf"), "text"),
    ]
    passed = failed = 0
    oracle_cache = {}
    for encoding, vocab, mode in cases:
        if (encoding, mode) not in oracle_cache:
            oracle_cache[encoding, mode] = json.loads(
                run(["node", os.path.join(HERE, "oracle.js"), encoding, mode] + files, cwd=HERE))
        want_all = oracle_cache[encoding, mode]
        for f in files:
            flags = ["--special"] if mode == "special" else []
            got = json.loads(run([args.afm, "tokenize", "--vocab", vocab, "--file", f, "--json"] + flags))
            want = want_all[f]
            name = f"{encoding} via {os.path.basename(vocab)} ({mode}) on {os.path.basename(f)}"
            if got == want:
                text = run([args.afm, "detokenize", "--vocab", vocab], input=" ".join(map(str, got)).encode())
                with open(f, "rb") as fh:
                    original = fh.read()
                if text == original:
                    print(f"PASS: {name}: {len(got)} tokens, round trip exact")
                    passed += 1
                    continue
                print(f"FAIL: {name}: decode does not give the file back")
            else:
                i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
                print(f"FAIL: {name}: {len(got)} tokens vs {len(want)}; first difference at token {i}: "
                      f"afm {got[max(0, i - 3):i + 4]} js-tiktoken {want[max(0, i - 3):i + 4]}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
