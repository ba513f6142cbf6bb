#!/usr/bin/env python3
"""Grader agreement with math-verify (Hugging Face) on Qwen2.5-Math's graded responses.

  verdicts: run math-verify on every (response, reference answer) pair of
            qwen25_math_cot_100.jsonl and write a compact fixture (one JSON line per response:
            idx, sample, answer, response, qwen_score, math_verify) for the Swift tests.
  variants: a stress set beyond the 800: the boxed answers of MATH test rewritten in other
            spellings (\\dfrac, thousands separators, `x = n`, units, decimals, reduced and
            unreduced fractions, redundant \\left( \\right), spaced-out tokens) and near misses
            (n+1, 10n, q/p), each judged by math-verify; same line format as `verdicts`.
  compare:  read `bridge grade --json` output for the same fixture and print agreement with
            math-verify (and with Qwen's own labels when present), listing every disagreement.

Run with the peers interpreter (math-verify installed):
  /tmp/peers/bin/python tools/grader_agreement.py verdicts \
      --source /work/shared/data/verifier_cases/qwen25_math_cot_100.jsonl \
      --out Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl
  bridge grade --input Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl --json > /tmp/ours.jsonl
  /tmp/peers/bin/python tools/grader_agreement.py compare \
      --fixture Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl --ours /tmp/ours.jsonl
  /tmp/peers/bin/python tools/grader_agreement.py variants --math-dir /work/shared/data/math --out /tmp/variants.jsonl

Protocol for math-verify: gold = parse("\\boxed{" + answer + "}"), prediction = parse(response)
with the default extraction configuration (LaTeX + plain expressions), verdict = verify(gold, pred).
"""
import argparse
import glob
import json
import os
import random
import re
import sys


def verdicts(source: str, out: str) -> None:
    from math_verify import parse, verify
    import math_verify

    rows = []
    with open(source, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            gold = parse("\\boxed{" + rec["answer"] + "}")
            for i, response in enumerate(rec["response"]):
                pred = parse(response)
                ok = bool(verify(gold, pred))
                rows.append({
                    "idx": rec["idx"],
                    "sample": i,
                    "answer": rec["answer"],
                    "response": response,
                    "qwen_pred": rec["pred"][i],
                    "qwen_score": bool(rec["score"][i]),
                    "math_verify": ok,
                    "math_verify_extracted": [str(p) for p in pred],
                })
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    n = len(rows)
    mv = sum(r["math_verify"] for r in rows)
    qa = sum(r["math_verify"] == r["qwen_score"] for r in rows)
    print(f"math-verify {getattr(math_verify, '__version__', '?')}: {mv}/{n} correct; "
          f"agrees with Qwen labels on {qa}/{n}", file=sys.stderr)


def last_boxed(text: str):
    i = text.rfind("\\boxed")
    j = text.find("{", i)
    if i < 0 or j < 0:
        return None
    depth = 0
    for k in range(j, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1:k]
    return None


def spellings(a: str):
    out = []
    if "\\frac" in a:
        out.append(a.replace("\\frac", "\\dfrac"))
    if re.fullmatch(r"-?\d+", a):
        n = int(a)
        out += [f"{n:,}", f"{n}.0", f"x = {n}", f"{n}\\text{{ units}}", f"{n + 1}", f"{n * 10}"]
    m = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", a)
    if m:
        p, q = int(m.group(1)), int(m.group(2))
        out += [f"{p}/{q}", f"\\frac{{{2 * p}}}{{{2 * q}}}", f"{p / q:.6f}", f"{p / q:.2f}", f"\\frac{{{q}}}{{{p}}}"]
    out.append("\\left( " + a + " \\right)" if not a.startswith("(") else a.replace("(", "\\left(", 1))
    out.append(" ".join(a))
    return out


def variants(math_dir: str, out: str, limit: int) -> None:
    from math_verify import parse, verify

    answers = []
    for path in sorted(glob.glob(os.path.join(math_dir, "test_*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                a = last_boxed(json.loads(line)["solution"])
                if a and a.strip():
                    answers.append(a)
    rows = [{"answer": a, "response": "\\boxed{" + c + "}"} for a in answers for c in spellings(a)]
    random.Random(0).shuffle(rows)
    rows = rows[:limit]
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            r["math_verify"] = bool(verify(parse("\\boxed{" + r["answer"] + "}"), parse(r["response"])))
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} variants, math-verify says equal for {sum(r['math_verify'] for r in rows)}", file=sys.stderr)


def compare(fixture: str, ours: str) -> None:
    with open(fixture, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f]
    with open(ours, encoding="utf-8") as f:
        outs = [json.loads(l) for l in f if l.strip()]
    summary = outs[-1]
    outs = outs[:-1]
    if len(outs) != len(rows):
        sys.exit(f"error: {len(outs)} graded lines for {len(rows)} fixture lines")
    n = len(rows)
    agree_mv = agree_q = 0
    has_qwen = all("qwen_score" in r for r in rows)
    for i, (r, o) in enumerate(zip(rows, outs)):
        agree_mv += o["correct"] == r["math_verify"]
        if has_qwen:
            agree_q += o["correct"] == r["qwen_score"]
        if o["correct"] != r["math_verify"]:
            where = f"idx {r['idx']} sample {r['sample']}" if "idx" in r else f"line {i + 1}"
            extra = (f" qwen={r['qwen_score']} mv_extracted={r['math_verify_extracted']!r} qwen_pred={r['qwen_pred']!r}"
                     if has_qwen else f" response={r['response']!r}")
            print(f"{where}: ours={o['correct']} math-verify={r['math_verify']} answer={r['answer']!r} "
                  f"ours_extracted={o['extracted']!r}{extra}")
    print(f"agreement with math-verify: {agree_mv}/{n} = {agree_mv / n:.4f}")
    if has_qwen:
        print(f"agreement with Qwen2.5-Math labels: {agree_q}/{n} = {agree_q / n:.4f}")
    print(f"our accuracy: {summary.get('accuracy')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verdicts")
    v.add_argument("--source", required=True)
    v.add_argument("--out", required=True)
    w = sub.add_parser("variants")
    w.add_argument("--math-dir", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--limit", type=int, default=6000)
    c = sub.add_parser("compare")
    c.add_argument("--fixture", required=True)
    c.add_argument("--ours", required=True)
    a = ap.parse_args()
    if a.cmd == "verdicts":
        verdicts(a.source, a.out)
    elif a.cmd == "variants":
        variants(a.math_dir, a.out, a.limit)
    else:
        compare(a.fixture, a.ours)


if __name__ == "__main__":
    main()
