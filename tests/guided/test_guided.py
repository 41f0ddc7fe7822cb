#!/usr/bin/python3
"""Guided generation against an independent validator (Debian's python3-jsonschema).

Soundness: for every schema in schemas/, random walks under the token mask (`afm schema
sample`, several seeds, cl100k_base and o200k_base) must produce JSON that parses and
validates. Completeness: every valid instance, written compactly with keys in schema order,
is accepted (`afm schema accepts`), and every invalid one is rejected. The instance lists are
themselves checked with jsonschema, so a wrong expectation fails loudly.

usage: test_guided.py --afm AFM --vocab SHARED_VOCAB_DIR [--samples N]
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402

# Debian's jsonschema checks date, email, uri (python3-rfc3987) and uuid itself; RFC 3339
# time and date-time need rfc3339-validator, which Debian lacks, so they are checked here
# from RFC 3339 section 5.6 directly.
TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("time", raises=ValueError)
def check_time(value):
    if not isinstance(value, str):
        return True
    m = TIME_RE.match(value)
    if not m:
        raise ValueError("not an RFC 3339 time")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if h > 23 or mi > 59 or s > 60:
        raise ValueError("time out of range")
    if m.group(6) is not None and (int(m.group(6)) > 23 or int(m.group(7)) > 59):
        raise ValueError("offset out of range")
    return True


@FORMATS.checks("date-time", raises=ValueError)
def check_date_time(value):
    if not isinstance(value, str):
        return True
    parts = re.split("[Tt]", value)
    if len(parts) != 2 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", parts[0]):
        raise ValueError("not an RFC 3339 date-time")
    datetime.date.fromisoformat(parts[0])
    return check_time(parts[1])


def validator(schema):
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=FORMATS)


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--afm", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--samples", type=int, default=6, help="walks per schema, seed and vocabulary")
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()

    failures = []
    schema_dir = os.path.join(HERE, "schemas")
    inst_dir = os.path.join(HERE, "instances")

    # The committed files are exactly cases.py's list.
    with tempfile.TemporaryDirectory() as tmp:
        cases.write(tmp)
        for kind in ("schemas", "instances"):
            want = sorted(os.listdir(os.path.join(tmp, kind)))
            have = sorted(f for f in os.listdir(os.path.join(HERE, kind)) if f.endswith(".json"))
            if want != have:
                failures.append("%s/ differs from cases.py (run cases.py --write .)" % kind)
            for f in want:
                a = open(os.path.join(tmp, kind, f), encoding="utf-8").read()
                b = open(os.path.join(HERE, kind, f), encoding="utf-8").read() if f in have else None
                if a != b:
                    failures.append("%s/%s is stale (run cases.py --write .)" % (kind, f))

    names = sorted(f for f in os.listdir(schema_dir) if f.endswith(".json"))
    checked = accepted_checks = 0
    incomplete = total = 0
    vocabs = [os.path.join(args.vocab, v + ".tiktoken") for v in ("cl100k_base", "o200k_base")]
    for name in names:
        path = os.path.join(schema_dir, name)
        schema = json.load(open(path, encoding="utf-8"))
        v = validator(schema)
        inst = json.load(open(os.path.join(inst_dir, name), encoding="utf-8"))

        # Completeness, and the expectations themselves.
        lines = []
        for value in inst["valid"]:
            errs = list(v.iter_errors(value))
            if errs:
                failures.append("%s: 'valid' instance %s is invalid: %s" % (name, compact(value), errs[0].message))
            lines.append((compact(value), True))
        for value in inst["invalid"]:
            if v.is_valid(value):
                failures.append("%s: 'invalid' instance %s is valid" % (name, compact(value)))
            lines.append((compact(value), False))
        if lines:
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
                f.write("\n".join(text for text, _ in lines) + "\n")
                tmpname = f.name
            out = subprocess.run([args.afm, "schema", "accepts", "--schema", path, "--instance", tmpname, "--lines"],
                                 capture_output=True, text=True)
            os.unlink(tmpname)
            if out.returncode == 2:
                failures.append("%s: afm error: %s" % (name, out.stderr.strip()))
                continue
            verdicts = out.stdout.splitlines()
            for (text, want), got in zip(lines, verdicts):
                accepted_checks += 1
                ok = got.split(": ", 1)[1].startswith("accepted")
                if ok != want:
                    failures.append("%s: %s should be %s, afm says %s" % (name, text, "accepted" if want else "rejected", got))

        # Soundness under random walks.
        # Compact output with both vocabularies, and once with bounded whitespace allowed.
        runs = [(vocab, seed, []) for vocab in vocabs for seed in range(1, args.seeds + 1)]
        runs.append((vocabs[-1], 99, ["--whitespace", "3"]))
        for vocab, seed, extra in runs:
            out = subprocess.run([args.afm, "schema", "sample", "--schema", path, "--vocab", vocab, "--json",
                                  "-n", str(args.samples), "--seed", str(seed), "--max-tokens", "1500"] + extra,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                failures.append("%s: sample failed: %s" % (name, out.stderr.strip()))
                continue
            for line in out.stdout.splitlines():
                r = json.loads(line)
                total += 1
                if not r["complete"]:
                    incomplete += 1
                    continue
                checked += 1
                try:
                    value = json.loads(r["text"])
                except ValueError as e:
                    failures.append("%s (%s, seed %d): output does not parse: %r: %s" % (name, os.path.basename(vocab), seed, r["text"], e))
                    continue
                errs = list(v.iter_errors(value))
                if errs:
                    failures.append("%s (%s, seed %d): output %r is invalid: %s" % (name, os.path.basename(vocab), seed, r["text"], errs[0].message))
    if incomplete > total // 20:
        failures.append("%d of %d walks did not finish within 1500 tokens" % (incomplete, total))
    for f in failures[:50]:
        print("FAIL", f)
    print("%d schemas; %d sampled outputs validated (%d walks unfinished); %d accept/reject verdicts checked"
          % (len(names), checked, incomplete, accepted_checks))
    print("%d passed, %d failed" % (checked + accepted_checks - len(failures), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
