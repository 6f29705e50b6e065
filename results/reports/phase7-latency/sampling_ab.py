#!/usr/bin/python3
"""Sampling overhead, measured: two builds of the preload driver (before
latency sampling existed, and now) under the same malloc library, run
interleaved (A B A B ...) on one CPU; prints the median of the per-repetition
ops/s ratios (new / old) and their spread, per workload.

usage: sampling_ab.py OLD_DRIVER NEW_DRIVER LIB_OR_glibc VARIANT REPS WORKLOAD[:ARGS] ...
  e.g. sampling_ab.py old/driver_glibc new/driver_glibc libhakmem_hot_mag.so hot_mag 7 \
         mixed_lifo:--ops=20000000 random_free:--ops=10000000,--slots=5000
"""
import json
import os
import statistics
import subprocess
import sys


def run(driver, lib, variant, workload, args):
    env = dict(os.environ)
    cmd = [driver, f"--workload={workload}", "--threads=1", "--cpus=1"] + args
    if lib != "glibc":
        env["LD_PRELOAD"] = lib
        cmd.insert(1, f"--preloaded={variant}")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"sampling_ab: {' '.join(cmd)} failed: {out.stderr.strip().splitlines()[-1:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    return record["ops_per_sec"]


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    old, new, lib, variant, reps = sys.argv[1:6]
    for spec in sys.argv[6:]:
        workload, _, rest = spec.partition(":")
        args = [a for a in rest.split(",") if a]
        ratios = []
        for rep in range(int(reps)):
            a = run(old, lib, variant, workload, args)
            b = run(new, lib, variant, workload, args)
            ratios.append(b / a)
        q = statistics.quantiles(ratios, n=4)
        print(f"{variant:8} {workload:18} new/old ops/s median {statistics.median(ratios):.3f}"
              f"  IQR {q[0]:.3f}-{q[2]:.3f}  ({reps} pairs)", flush=True)


if __name__ == "__main__":
    main()
