#!/usr/bin/env python3
"""The Python `safetensors` side of `bridge bench store`: the same file, the same operations.

  load_file   read every tensor into memory (torch; numpy as well when it can hold the dtypes)
  save_file   write them to a new file (then, separately, with an fsync, as bridge's import does)
  safe_open   open the file and get every tensor (mmap-backed in the torch flavour)

Usage: /tmp/peers/bin/python tools/bench_safetensors.py FILE [--repeat 3] [--json]
"""
import argparse
import json
import os
import sys
import tempfile
import time


def best(label, fn, repeat, nbytes, log, prepare=lambda: None):
    times = []
    for _ in range(repeat):
        prepare()  # untimed, as in bridge bench store: e.g. remove the previous output
        os.sync()  # as bridge bench store does: no dirty pages from the previous repetition
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    b = min(times)
    log(f"{label:<30}{b:9.4f} s  {nbytes / b / 1e9:8.2f} GB/s")
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr)

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(os.cpu_count() or 1)
    nbytes = os.path.getsize(args.file)
    tmp = tempfile.mkdtemp(prefix="st-bench-")
    out = os.path.join(tmp, "out.safetensors")
    tensors = load_file(args.file)
    res = {"bytes": nbytes, "tensors": len(tensors)}

    res["load_file_s"] = best("load_file (torch)", lambda: load_file(args.file), args.repeat, nbytes, log)
    def remove_out():
        if os.path.exists(out):
            os.remove(out)

    res["save_file_s"] = best("save_file (torch)", lambda: save_file(tensors, out), args.repeat, nbytes, log, remove_out)

    def save_durable():
        save_file(tensors, out)
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    res["save_file_fsync_s"] = best("save_file + fsync", save_durable, args.repeat, nbytes, log, remove_out)

    def open_all():
        with safe_open(args.file, "pt") as f:
            for k in f.keys():
                f.get_tensor(k)

    res["safe_open_all_s"] = best("safe_open + get_tensor (all)", open_all, args.repeat, nbytes, log)

    def open_meta():
        with safe_open(args.file, "pt") as f:
            list(f.keys())

    res["safe_open_keys_s"] = best("safe_open + keys", open_meta, args.repeat, nbytes, log)
    os.remove(out)
    os.rmdir(tmp)
    if args.json:
        print(json.dumps(res, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
