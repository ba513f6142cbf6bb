#!/usr/bin/env python3
"""Writes the small dataset excerpts the Training tests read (Tests/TrainingTests/Fixtures/).

  python3 tools/make_dataset_fixtures.py --data /work/shared/data --out Tests/TrainingTests/Fixtures

Every excerpt holds upstream records as the same JSON objects, re-serialised (fields dropped only
where noted); attribution is in Fixtures/SOURCE.md. The math-verify verdicts are written separately by
tools/grader_agreement.py.
"""
import argparse
import json
import os
import shutil


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    d, out = a.data, a.out
    os.makedirs(os.path.join(out, "samples"), exist_ok=True)

    # MATH-500: every reference solution with its extracted answer (problem text dropped).
    math500 = read_jsonl(os.path.join(d, "math500/test.jsonl"))
    write_jsonl(os.path.join(out, "math500_solutions.jsonl"),
                [{"unique_id": r["unique_id"], "solution": r["solution"], "answer": r["answer"]} for r in math500])

    # GSM8K: every train/test record whose final answer has a thousands separator.
    commas = []
    for split in ["train", "test"]:
        for r in read_jsonl(os.path.join(d, f"gsm8k/{split}.jsonl")):
            if "," in r["answer"].split("####")[-1]:
                commas.append(r)
    write_jsonl(os.path.join(out, "gsm8k_comma_answers.jsonl"), commas)

    # OlympiadBench's judge examples, unmodified.
    shutil.copy(os.path.join(d, "verifier_cases/olympiadbench_scoring_examples.json"),
                os.path.join(out, "olympiadbench_scoring_examples.json"))

    # A few whole records of every dataset layout, for the readers.
    samples = {
        "gsm8k_test.jsonl": read_jsonl(os.path.join(d, "gsm8k/test.jsonl"))[:3],
        "math_test_algebra.jsonl": read_jsonl(os.path.join(d, "math/test_algebra.jsonl"))[:3],
        "math500_test.jsonl": math500[:3],
        "aime24_test.jsonl": read_jsonl(os.path.join(d, "aime24/test.jsonl"))[:2],
        "amc23_test.jsonl": read_jsonl(os.path.join(d, "amc23/test.jsonl"))[:3],
        "minerva_math_test.jsonl": read_jsonl(os.path.join(d, "minerva_math/test.jsonl"))[:3],
    }
    olympiad = read_jsonl(os.path.join(d, "olympiadbench/test.jsonl"))
    picked = olympiad[:2] + [r for r in olympiad if r["is_multiple_answer"]][:1] + [r for r in olympiad if r["error"]][:1]
    samples["olympiadbench_test.jsonl"] = picked
    for name, records in samples.items():
        write_jsonl(os.path.join(out, "samples", name), records)


if __name__ == "__main__":
    main()
