#!/usr/bin/env python3
"""Grader agreement with math-verify (Hugging Face) on Qwen2.5-Math's graded responses.

  verdicts: run math-verify on every (response, reference answer) pair of
            qwen25_math_cot_100.jsonl and write a compact fixture (one JSON line per response:
            idx, sample, answer, response, qwen_score, math_verify) for the Swift tests.
  compare:  read `bridge grade --json` output for the same fixture and print agreement with
            math-verify and with Qwen's own labels, listing every disagreement.

Run with the peers interpreter (math-verify installed):
  /tmp/peers/bin/python tools/grader_agreement.py verdicts \
      --source /work/shared/data/verifier_cases/qwen25_math_cot_100.jsonl \
      --out Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl
  bridge grade --input Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl --json > /tmp/ours.jsonl
  /tmp/peers/bin/python tools/grader_agreement.py compare \
      --fixture Tests/TrainingTests/Fixtures/qwen25_math_cot_verdicts.jsonl --ours /tmp/ours.jsonl

Protocol for math-verify: gold = parse("\\boxed{" + answer + "}"), prediction = parse(response)
with the default extraction configuration (LaTeX + plain expressions), verdict = verify(gold, pred).
"""
import argparse
import json
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
    for r, o in zip(rows, outs):
        agree_mv += o["correct"] == r["math_verify"]
        agree_q += o["correct"] == r["qwen_score"]
        if o["correct"] != r["math_verify"]:
            print(f"idx {r['idx']} sample {r['sample']}: ours={o['correct']} "
                  f"math-verify={r['math_verify']} qwen={r['qwen_score']} answer={r['answer']!r} "
                  f"ours_extracted={o['extracted']!r} mv_extracted={r['math_verify_extracted']!r} "
                  f"qwen_pred={r['qwen_pred']!r}")
    print(f"agreement with math-verify: {agree_mv}/{n} = {agree_mv / n:.4f}")
    print(f"agreement with Qwen2.5-Math labels: {agree_q}/{n} = {agree_q / n:.4f}")
    print(f"our accuracy: {summary.get('accuracy')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verdicts")
    v.add_argument("--source", required=True)
    v.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--fixture", required=True)
    c.add_argument("--ours", required=True)
    a = ap.parse_args()
    if a.cmd == "verdicts":
        verdicts(a.source, a.out)
    else:
        compare(a.fixture, a.ours)


if __name__ == "__main__":
    main()
